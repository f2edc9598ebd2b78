"""Stores: read and write the warehouse tables of one concept (planning, predictor models, experiment rules)."""
