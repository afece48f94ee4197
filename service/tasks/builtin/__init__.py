"""The five tasks Face-LLaVA was tuned for, one module each (registered in service/tasks/registry.py)."""
