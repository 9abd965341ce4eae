namespace Qlaud.Core.Tests.Dialects.Anthropic;

/// <summary>Wire fixtures in the shapes Anthropic's Messages reference and streaming guide document.</summary>
internal static class AnthropicFixtures
{
    /// <summary>
    /// A coding-agent request in the shape Claude Code sends: a large system prompt as blocks with cache_control, ten
    /// tools with JSON schemas (one a server tool), extended thinking, and a multi-turn history with signed and redacted
    /// thinking, parallel tool calls, a failed tool result and tool results with block content.
    /// </summary>
    public const string CodingAgentRequest = """
    {
      "model": "claude-sonnet-4-5-20250929",
      "max_tokens": 32000,
      "stream": true,
      "temperature": 1,
      "metadata": { "user_id": "user_3f9a_account_71c2_session_0b1d" },
      "thinking": { "type": "enabled", "budget_tokens": 10000 },
      "service_tier": "auto",
      "context_management": { "edits": [ { "type": "clear_tool_uses_20250919" } ] },
      "system": [
        { "type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude." },
        { "type": "text", "text": "You are an interactive CLI tool that helps users with software engineering tasks. Use the instructions below and the tools available to you to assist the user.\n\nIMPORTANT: Assist with defensive security tasks only.\n\n# Tone and style\nYou should be concise, direct, and to the point.\n\n# Following conventions\nWhen making changes to files, first understand the file's code conventions. Mimic code style, use existing libraries and utilities, and follow existing patterns.\n\n# Doing tasks\n- Use the TodoWrite tool to plan the task if required\n- Use the available search tools to understand the codebase\n- Implement the solution using all tools available to you\n- Verify the solution with tests\n\n<env>\nWorking directory: project\nIs directory a git repo: Yes\nPlatform: linux\n</env>", "cache_control": { "type": "ephemeral" } }
      ],
      "tools": [
        { "name": "Task", "description": "Launch a new agent to handle complex, multi-step tasks autonomously.", "input_schema": { "type": "object", "properties": { "description": { "type": "string", "description": "A short (3-5 word) description of the task" }, "prompt": { "type": "string", "description": "The task for the agent to perform" }, "subagent_type": { "type": "string" } }, "required": ["description", "prompt", "subagent_type"], "additionalProperties": false } },
        { "name": "Bash", "description": "Executes a given bash command in a persistent shell session with optional timeout.", "input_schema": { "type": "object", "properties": { "command": { "type": "string", "description": "The command to execute" }, "timeout": { "type": "number", "description": "Optional timeout in milliseconds (max 600000)" }, "description": { "type": "string" }, "run_in_background": { "type": "boolean" } }, "required": ["command"], "additionalProperties": false } },
        { "name": "Glob", "description": "Fast file pattern matching tool that works with any codebase size.", "input_schema": { "type": "object", "properties": { "pattern": { "type": "string" }, "path": { "type": "string" } }, "required": ["pattern"], "additionalProperties": false } },
        { "name": "Grep", "description": "A powerful search tool built on ripgrep.", "input_schema": { "type": "object", "properties": { "pattern": { "type": "string" }, "path": { "type": "string" }, "glob": { "type": "string" }, "output_mode": { "type": "string", "enum": ["content", "files_with_matches", "count"] }, "-i": { "type": "boolean" }, "-n": { "type": "boolean" }, "head_limit": { "type": "number" }, "multiline": { "type": "boolean" } }, "required": ["pattern"], "additionalProperties": false } },
        { "name": "Read", "description": "Reads a file from the local filesystem.", "input_schema": { "type": "object", "properties": { "file_path": { "type": "string" }, "offset": { "type": "number" }, "limit": { "type": "number" } }, "required": ["file_path"], "additionalProperties": false } },
        { "name": "Edit", "description": "Performs exact string replacements in files.", "input_schema": { "type": "object", "properties": { "file_path": { "type": "string" }, "old_string": { "type": "string" }, "new_string": { "type": "string" }, "replace_all": { "type": "boolean", "default": false } }, "required": ["file_path", "old_string", "new_string"], "additionalProperties": false } },
        { "name": "Write", "description": "Writes a file to the local filesystem.", "input_schema": { "type": "object", "properties": { "file_path": { "type": "string" }, "content": { "type": "string" } }, "required": ["file_path", "content"], "additionalProperties": false } },
        { "name": "WebFetch", "description": "Fetches content from a specified URL and processes it using an AI model.", "input_schema": { "type": "object", "properties": { "url": { "type": "string", "format": "uri" }, "prompt": { "type": "string" } }, "required": ["url", "prompt"], "additionalProperties": false } },
        { "type": "web_search_20250305", "name": "web_search", "max_uses": 5, "allowed_domains": ["example.com"] },
        { "name": "TodoWrite", "description": "Create and manage a structured task list for your current coding session.", "input_schema": { "type": "object", "properties": { "todos": { "type": "array", "items": { "type": "object", "properties": { "content": { "type": "string", "minLength": 1 }, "status": { "type": "string", "enum": ["pending", "in_progress", "completed"] }, "activeForm": { "type": "string" } }, "required": ["content", "status", "activeForm"], "additionalProperties": false } } }, "required": ["todos"], "additionalProperties": false }, "cache_control": { "type": "ephemeral" } }
      ],
      "messages": [
        { "role": "user", "content": [
          { "type": "text", "text": "<system-reminder>\nAs you answer the user's questions, you can use the following context.\n</system-reminder>" },
          { "type": "text", "text": "The add test fails, please fix it.", "cache_control": { "type": "ephemeral" } }
        ] },
        { "role": "assistant", "content": [
          { "type": "thinking", "thinking": "The user wants me to fix a failing test. I should run the test suite first to see the failure.", "signature": "EqQBCkYIBxgCKkAZ3sQ2ubGZ4r7K0aS2b6E9gW4yY3oMv0c1hJ8dQ5nT2xR7wL0pF6kB9mH4jC1eA8sD3zV5uN7qI2oX0yK9tG6EgwT8pR4mV2nB6cL1xYaDH5sQ2wE9rT3uY7iO1pASDF=" },
          { "type": "text", "text": "I'll run the tests first." },
          { "type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "Bash", "input": { "command": "npm test -- calc", "description": "Run the calc tests" } }
        ] },
        { "role": "user", "content": [
          { "type": "tool_result", "tool_use_id": "toolu_01A09q90qw90lq917835lq9", "content": "FAIL src/calc.test.ts\n  ✕ adds two numbers (3 ms)\n\n  Expected: 5\n  Received: -1", "is_error": true }
        ] },
        { "role": "assistant", "content": [
          { "type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB3yHwZ8oR0dT5iE1fN2Lg==" },
          { "type": "tool_use", "id": "toolu_01B7yBwAA8aqnVZpkRb1xGx2", "name": "Read", "input": { "file_path": "src/calc.ts" } },
          { "type": "tool_use", "id": "toolu_01C4kDZ2Nqm5VVwW1PGTn7s3", "name": "Read", "input": { "file_path": "src/calc.test.ts", "limit": 40 } }
        ] },
        { "role": "user", "content": [
          { "type": "tool_result", "tool_use_id": "toolu_01B7yBwAA8aqnVZpkRb1xGx2", "content": [ { "type": "text", "text": "     1\texport const add = (a: number, b: number): number => a - b;\n" } ] },
          { "type": "tool_result", "tool_use_id": "toolu_01C4kDZ2Nqm5VVwW1PGTn7s3", "content": "     1\timport { add } from './calc';\n     2\ttest('adds two numbers', () => expect(add(2, 3)).toBe(5));\n" },
          { "type": "text", "text": "<system-reminder>The TodoWrite tool hasn't been used recently.</system-reminder>" }
        ] },
        { "role": "assistant", "content": [
          { "type": "thinking", "thinking": "add subtracts instead of adding. Replace a - b with a + b.", "signature": "ErUBCkYIBxgCKkBoQ7Vx2mN9pL4kJ8hG3fD6sA1zX5cV0bN7mQ2wE4rT9yU6iO3pL8kJ1hG5fD2sA7zX4cV9bN0mQ3wE6rT1yUgIMw7VeQZnB4rPxfTZG" },
          { "type": "tool_use", "id": "toolu_01D9mWnA2cXzGs8Wt5HnEo1q", "name": "Edit", "input": { "file_path": "src/calc.ts", "old_string": "a - b", "new_string": "a + b" }, "cache_control": { "type": "ephemeral" } }
        ] },
        { "role": "user", "content": [
          { "type": "tool_result", "tool_use_id": "toolu_01D9mWnA2cXzGs8Wt5HnEo1q", "content": "The file src/calc.ts has been updated.", "cache_control": { "type": "ephemeral" } }
        ] }
      ]
    }
    """;

    /// <summary>
    /// A streamed answer with extended thinking, text and a tool call, in the event shapes of Anthropic's streaming guide
    /// (including a ping and a message_delta that repeats the cumulative input counts, as current models send).
    /// </summary>
    public const string ThinkingTextToolStream = """
    event: message_start
    data: {"type":"message_start","message":{"id":"msg_01RkXh9zJ4cY2dnq3pXvgt8E","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":1843,"cache_read_input_tokens":20480,"cache_creation":{"ephemeral_5m_input_tokens":1843,"ephemeral_1h_input_tokens":0},"output_tokens":4,"service_tier":"standard"}}}

    event: content_block_start
    data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}

    event: ping
    data: {"type": "ping"}

    event: content_block_delta
    data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"The user wants the weather in Paris."}}

    event: content_block_delta
    data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":" I should call get_weather with celsius."}}

    event: content_block_delta
    data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds2kO5ePl0kR8YwyE4rXHz9v3pZcw5hKOqJQZ3GyF6DvD2sRvN8kKqYn7mKvAsg=="}}

    event: content_block_stop
    data: {"type":"content_block_stop","index":0}

    event: content_block_start
    data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}

    event: content_block_delta
    data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"I'll check the current weather"}}

    event: content_block_delta
    data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":" in Paris for you."}}

    event: content_block_stop
    data: {"type":"content_block_stop","index":1}

    event: content_block_start
    data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{},"caller":{"type":"direct"}}}

    event: content_block_delta
    data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}

    event: content_block_delta
    data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"location\": \"Par"}}

    event: content_block_delta
    data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"is, France\", \"unit\": \"celsius\"}"}}

    event: content_block_stop
    data: {"type":"content_block_stop","index":2}

    event: message_delta
    data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":12,"cache_creation_input_tokens":1843,"cache_read_input_tokens":20480,"output_tokens":89}}

    event: message_stop
    data: {"type":"message_stop"}

    """;
}
