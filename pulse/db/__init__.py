"""The tenancy/database layer: the only place raw SQL may live (INV-1)."""

SYSTEM_DB = "system"
OWNER_DB = "owner"
