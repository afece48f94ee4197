"""Task prompts and parsers: a task becomes a question for Face-LLaVA, its free-text answer becomes labels."""
