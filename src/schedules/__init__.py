"""Monthly sampling plans (定期定项定批定点) turned into dated tasks; pure functions over plain data."""
