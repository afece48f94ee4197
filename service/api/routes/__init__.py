"""HTTP routers, one module per surface: /analyze, the OpenAI-compatible /v1, health and metrics, the demo page."""
