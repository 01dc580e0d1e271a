"""Who may act: accounts, passwords, sign-in throttling, sessions and the district a person acts for."""
