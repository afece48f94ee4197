"""Task prompts and parsers: turn a task into a question for Face-LLaVA and its free-text answer into labels."""
