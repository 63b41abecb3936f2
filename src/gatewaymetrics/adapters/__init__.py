"""Adapters bind the pipeline to a gateway's callback API (LiteLLM first)."""
