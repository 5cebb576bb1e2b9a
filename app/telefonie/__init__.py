"""The Telefonie SMS provider: API client, numbers, webhook schema and SMS segment counting."""
