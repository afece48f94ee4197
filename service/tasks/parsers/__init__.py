"""Per-task parsers from Face-LLaVA's free text to labels of the task's fixed vocabulary (each task's parser is
named in its declaration; service/tasks/registry.py finds it by task name)."""
