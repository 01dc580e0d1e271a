"""Server-rendered pages for consumers, stations, reviewers and testers."""
