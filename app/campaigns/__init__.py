"""Campaigns: one message to many recipients, paced per minute and held outside local quiet hours."""
