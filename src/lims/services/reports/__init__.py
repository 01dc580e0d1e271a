"""Reports made from the record: the monthly quick-test report (`month`), its charts and its spreadsheet."""
