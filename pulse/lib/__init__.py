"""Pure helpers with no models (as healthchecks keeps in hc/lib)."""
