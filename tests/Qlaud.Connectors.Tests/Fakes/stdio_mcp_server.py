#!/usr/bin/env python3
"""A local MCP server over stdio (newline-delimited JSON-RPC), for the connector tests: `add {a, b}` and `whoami`, which
answers the credential Qlaud passed in the AUTHORIZATION environment variable. Every call is appended to the file named by
QLAUD_TEST_CALL_LOG (set by the test through the connector's arguments)."""
import json
import os
import sys

log_path = sys.argv[1] if len(sys.argv) > 1 else None

TOOLS = [
    {"name": "add", "description": "Add two numbers.",
     "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}},
    {"name": "whoami", "description": "Tell which credential the server was started with.",
     "inputSchema": {"type": "object", "properties": {}}},
]


def reply(message_id, result):
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": message_id, "result": result}) + "\n")
    sys.stdout.flush()


def error(message_id, code, text):
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": message_id, "error": {"code": code, "message": text}}) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    message = json.loads(line)
    method = message.get("method")
    message_id = message.get("id")
    if message_id is None:
        continue  # a notification
    if method == "initialize":
        reply(message_id, {"protocolVersion": message["params"]["protocolVersion"], "capabilities": {"tools": {}},
                           "serverInfo": {"name": "stdio-test", "version": "1.0.0"}})
    elif method == "tools/list":
        reply(message_id, {"tools": TOOLS})
    elif method == "tools/call":
        name = message["params"]["name"]
        args = message["params"].get("arguments") or {}
        if log_path:
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps({"tool": name, "arguments": args, "authorization": os.environ.get("AUTHORIZATION")}) + "\n")
        if name == "add":
            text = str(args["a"] + args["b"])
        elif name == "whoami":
            text = os.environ.get("AUTHORIZATION", "(no credential)")
        else:
            error(message_id, -32602, "unknown tool " + name)
            continue
        reply(message_id, {"content": [{"type": "text", "text": text}], "isError": False})
    elif method == "ping":
        reply(message_id, {})
    else:
        error(message_id, -32601, "method not found: " + str(method))
