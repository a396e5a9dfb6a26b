"""Mnemo as the memory of other tools: an MCP server and a loopback HTTP API (`mnemo mcp`)."""
