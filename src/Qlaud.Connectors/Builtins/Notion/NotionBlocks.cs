using System.Text.Json;

namespace Qlaud.Connectors.Builtins.Notion;

/// <summary>Markdown-ish text as Notion blocks: <c>#</c>/<c>##</c>/<c>###</c> headings, <c>-</c>/<c>*</c> bullets,
/// <c>1.</c> numbered items, <c>[ ]</c>/<c>[x]</c> to-dos, <c>&gt;</c> quotes, <c>```</c> code fences, <c>---</c> dividers,
/// and paragraphs (consecutive lines, separated by blank lines). Inline formatting is kept as plain text.</summary>
/// <remarks>Block shapes: https://developers.notion.com/reference/block (a rich text object's <c>text.content</c> holds at most
/// 2,000 characters, so longer text is split into several).</remarks>
internal static class NotionBlocks
{
    /// <summary>The most characters of one rich text object.</summary>
    public const int MaxTextChars = 2000;

    /// <summary>One block: its type and text (and the checked state of a to-do, the language of code).</summary>
    public readonly record struct Block(string Type, string Text, bool Checked = false, string? Language = null);

    /// <summary>The blocks of <paramref name="text"/>.</summary>
    public static List<Block> Parse(string text)
    {
        var blocks = new List<Block>();
        var paragraph = new List<string>();
        string[] lines = text.ReplaceLineEndings("\n").Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            string trimmed = line.Trim();
            if (trimmed.StartsWith("```", StringComparison.Ordinal))
            {
                Flush(blocks, paragraph);
                string language = trimmed[3..].Trim();
                var code = new List<string>();
                for (i++; i < lines.Length && !lines[i].Trim().StartsWith("```", StringComparison.Ordinal); i++)
                {
                    code.Add(lines[i]);
                }

                blocks.Add(new Block("code", string.Join('\n', code), Language: CodeLanguage(language)));
                continue;
            }

            Block? block = trimmed switch
            {
                "" => null,
                "---" or "***" => new Block("divider", ""),
                _ when trimmed.StartsWith("### ", StringComparison.Ordinal) => new Block("heading_3", trimmed[4..].Trim()),
                _ when trimmed.StartsWith("## ", StringComparison.Ordinal) => new Block("heading_2", trimmed[3..].Trim()),
                _ when trimmed.StartsWith("# ", StringComparison.Ordinal) => new Block("heading_1", trimmed[2..].Trim()),
                _ when trimmed.StartsWith("- [ ] ", StringComparison.Ordinal) || trimmed.StartsWith("[ ] ", StringComparison.Ordinal)
                    => new Block("to_do", trimmed[(trimmed.IndexOf(']', StringComparison.Ordinal) + 1)..].Trim()),
                _ when trimmed.StartsWith("- [x] ", StringComparison.OrdinalIgnoreCase) || trimmed.StartsWith("[x] ", StringComparison.OrdinalIgnoreCase)
                    => new Block("to_do", trimmed[(trimmed.IndexOf(']', StringComparison.Ordinal) + 1)..].Trim(), Checked: true),
                _ when trimmed.StartsWith("- ", StringComparison.Ordinal) || trimmed.StartsWith("* ", StringComparison.Ordinal) => new Block("bulleted_list_item", trimmed[2..].Trim()),
                _ when NumberedText(trimmed) is { } item => new Block("numbered_list_item", item),
                _ when trimmed.StartsWith("> ", StringComparison.Ordinal) => new Block("quote", trimmed[2..].Trim()),
                _ => new Block("paragraph", ""),
            };
            if (block is null)
            {
                Flush(blocks, paragraph);
            }
            else if (block.Value.Type == "paragraph")
            {
                paragraph.Add(trimmed);
            }
            else
            {
                Flush(blocks, paragraph);
                blocks.Add(block.Value);
            }
        }

        Flush(blocks, paragraph);
        return blocks;
    }

    /// <summary>Writes <paramref name="block"/> as a Notion block object.</summary>
    public static void Write(Utf8JsonWriter writer, Block block)
    {
        writer.WriteStartObject();
        writer.WriteString("object", "block");
        writer.WriteString("type", block.Type);
        writer.WriteStartObject(block.Type);
        if (block.Type != "divider")
        {
            writer.WriteStartArray("rich_text");
            for (int start = 0; start < block.Text.Length; start += MaxTextChars)
            {
                writer.WriteStartObject();
                writer.WriteString("type", "text");
                writer.WriteStartObject("text");
                writer.WriteString("content", block.Text.Substring(start, Math.Min(MaxTextChars, block.Text.Length - start)));
                writer.WriteEndObject();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            if (block.Type == "to_do")
            {
                writer.WriteBoolean("checked", block.Checked);
            }

            if (block.Type == "code")
            {
                writer.WriteString("language", block.Language ?? "plain text");
            }
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>Notion's name of a fence's language (Notion accepts only its own list; others become <c>plain text</c>).</summary>
    private static string CodeLanguage(string fence) => fence.ToLowerInvariant() switch
    {
        "cs" or "csharp" or "c#" => "c#",
        "cpp" or "c++" => "c++",
        "js" or "javascript" or "jsx" => "javascript",
        "ts" or "typescript" or "tsx" => "typescript",
        "py" or "python" => "python",
        "sh" or "shell" or "zsh" => "shell",
        "yml" or "yaml" => "yaml",
        "rb" or "ruby" => "ruby",
        "rs" or "rust" => "rust",
        "md" or "markdown" => "markdown",
        "dockerfile" or "docker" => "docker",
        "ps1" or "pwsh" or "powershell" => "powershell",
        "bash" or "c" or "css" or "diff" or "go" or "graphql" or "html" or "java" or "json" or "kotlin" or "php" or "scala" or "sql" or "swift" or "xml" => fence.ToLowerInvariant(),
        _ => "plain text",
    };

    private static void Flush(List<Block> blocks, List<string> paragraph)
    {
        if (paragraph.Count > 0)
        {
            blocks.Add(new Block("paragraph", string.Join('\n', paragraph)));
            paragraph.Clear();
        }
    }

    private static string? NumberedText(string line)
    {
        int digits = 0;
        while (digits < line.Length && digits < 4 && char.IsAsciiDigit(line[digits]))
        {
            digits++;
        }

        return digits > 0 && line.Length > digits + 1 && line[digits] == '.' && line[digits + 1] == ' ' ? line[(digits + 2)..].Trim() : null;
    }
}
