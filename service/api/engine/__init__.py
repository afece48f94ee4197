"""The gateway's side of the engine: the HTTP client to vLLM and the chat payloads it sends."""
