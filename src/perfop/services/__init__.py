"""The operations every front end offers, below the front ends (CLI, MCP server, agent runner).

``envelope`` builds the JSON documents (``{"schema", "kind", ...}``) and names their schemas;
``table`` is the tool table (argument model, output model, function calling a feature service with
an ``ActingContext``) filled by the ``*_tools`` modules that ``catalog`` lists; ``guards`` holds the
checks a tool applies to what an agent sends (confined paths, safe refs, one-line errors,
cancellation); ``documents`` the documents' models (MCP output schemas); ``hints`` rewrites CLI
hints as tool calls. Nothing here imports a front end (``tests/unit/test_layers.py``).
"""
