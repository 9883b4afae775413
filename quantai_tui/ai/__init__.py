"""AI research assistant: LLM client, tools, knowledge base. Never imports textual or rich."""
