"""The demonstration district: users, plans, instruments and a few days of work built through the services."""
