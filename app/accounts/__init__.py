"""Users and their roles: client, cleaner, operator, integration."""
