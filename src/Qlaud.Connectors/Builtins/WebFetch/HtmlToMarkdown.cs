using System.Text;
using AngleSharp.Dom;
using AngleSharp.Html.Dom;

namespace Qlaud.Connectors.Builtins.WebFetch;

/// <summary>Writes an AngleSharp DOM as Markdown for a model to read: headings, paragraphs, nested lists, links and images with
/// absolute URLs, emphasis, inline code, fenced code blocks, block quotes and pipe tables.</summary>
/// <remarks>The feed serves no maintained HTML-to-Markdown library for .NET (no ReverseMarkdown or similar), so this small
/// converter walks the DOM the HTML parser built. It aims at readable text, not at a round trip: Markdown characters in text
/// are not escaped, and elements it does not know are read for their text. Scripts, styles, forms, frames and embedded
/// media are left out, and with <c>skipChrome</c> also navigation, page headers, footers and asides (used when no article
/// was extracted). It stops once it has written <c>maxChars</c> characters, and descends at most 400 elements deep.</remarks>
internal sealed class HtmlToMarkdown
{
    private const int MaxDepth = 400;

    private readonly StringBuilder _out = new();
    private readonly StringBuilder _inline = new();
    private readonly List<string> _indent = [];
    private readonly Uri? _base;
    private readonly int _maxChars;
    private readonly bool _skipChrome;
    private string? _marker;
    private int _depth;
    private int _openedAt = -1;

    private HtmlToMarkdown(Uri? baseUri, int maxChars, bool skipChrome)
    {
        _base = baseUri;
        _maxChars = maxChars;
        _skipChrome = skipChrome;
    }

    /// <summary>The Markdown of <paramref name="root"/>'s content.</summary>
    /// <param name="root">The element (or document) whose children are written.</param>
    /// <param name="baseUri">The page's URL, against which relative links resolve.</param>
    /// <param name="maxChars">Roughly where to stop writing (the caller cuts exactly).</param>
    /// <param name="skipChrome">Whether to leave out navigation, page headers, footers and asides.</param>
    public static string Convert(INode root, Uri? baseUri, int maxChars, bool skipChrome)
    {
        var writer = new HtmlToMarkdown(baseUri, maxChars, skipChrome);
        writer.Children(root);
        writer.Block();
        return writer._out.ToString().Trim();
    }

    private bool Full => _out.Length > _maxChars;

    private void Children(INode node)
    {
        var children = node.ChildNodes;
        for (int i = 0; i < children.Length && !Full; i++)
        {
            switch (children[i])
            {
                case IText text:
                    Text(text.Data);
                    break;
                case IElement element:
                    Element(element);
                    break;
            }
        }
    }

    private void Element(IElement e)
    {
        if (_depth >= MaxDepth)
        {
            return;
        }

        _depth++;
        switch (e.LocalName)
        {
            case "script" or "style" or "noscript" or "template" or "svg" or "math" or "canvas" or "iframe" or "frame" or "frameset" or "object"
                or "embed" or "video" or "audio" or "picture" or "source" or "head" or "title" or "meta" or "link" or "form" or "button" or "select"
                or "input" or "textarea" or "option" or "dialog":
                break;
            case "nav" or "header" or "footer" or "aside" when _skipChrome:
                break;
            case "br":
                _inline.Append('\n');
                break;
            case "hr":
                Block();
                Line("---");
                Gap();
                break;
            case "h1" or "h2" or "h3" or "h4" or "h5" or "h6":
                Block();
                _inline.Append('#', e.LocalName[1] - '0').Append(' ');
                Children(e);
                Block();
                break;
            case "ul" or "ol":
                Block();
                List(e, ordered: e.LocalName == "ol");
                break;
            case "blockquote":
                Block();
                _indent.Add("> ");
                Children(e);
                Block();
                _indent.RemoveAt(_indent.Count - 1);
                Gap();
                break;
            case "pre":
                Block();
                Code(e);
                break;
            case "table" when e is IHtmlTableElement table:
                Block();
                Table(table);
                break;
            case "a":
                Link(e);
                break;
            case "img":
                Image(e);
                break;
            case "strong" or "b":
                Wrap(e, "**");
                break;
            case "em" or "i" or "cite":
                Wrap(e, "*");
                break;
            case "del" or "s" or "strike":
                Wrap(e, "~~");
                break;
            case "code" or "kbd" or "samp" or "tt":
                string code = Collapse(e.TextContent).Trim();
                if (code.Length > 0)
                {
                    _inline.Append('`').Append(code).Append('`');
                }

                break;
            case "p" or "div" or "section" or "article" or "main" or "header" or "footer" or "aside" or "nav" or "figure" or "figcaption"
                or "address" or "details" or "summary" or "dl" or "dt" or "dd" or "center" or "fieldset" or "li" or "body" or "html" or "caption":
                Block();
                Children(e);
                Block();
                break;
            default:
                Children(e);
                break;
        }

        _depth--;
    }

    private void List(IElement list, bool ordered)
    {
        int number = ordered && int.TryParse(list.GetAttribute("start"), out int start) ? start : 1;
        var children = list.ChildNodes;
        for (int i = 0; i < children.Length && !Full; i++)
        {
            if (children[i] is IElement { LocalName: "li" } item)
            {
                Block();
                _marker = ordered ? number++ + ". " : "- ";
                _indent.Add(new string(' ', _marker.Length));
                Children(item);
                Block();
                _marker = null;
                _indent.RemoveAt(_indent.Count - 1);
            }
            else if (children[i] is IElement other)
            {
                Element(other);
            }
        }

        Block();
        Gap();
    }

    private void Code(IElement pre)
    {
        string text = pre.TextContent.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd('\n', ' ', '\t');
        string? language = (pre.QuerySelector("code")?.ClassName ?? pre.ClassName)?.Split(' ')
            .FirstOrDefault(static c => c.StartsWith("language-", StringComparison.Ordinal))?["language-".Length..];
        string fence = text.Contains("```", StringComparison.Ordinal) ? "~~~~" : "```";
        Line(fence + language);
        foreach (string line in text.Split('\n'))
        {
            Line(line);
        }

        Line(fence);
        Gap();
    }

    private void Table(IHtmlTableElement table)
    {
        List<List<string>> rows = [];
        foreach (var row in table.Rows)
        {
            List<string> cells = [];
            foreach (var cell in row.Cells)
            {
                string text = Convert(cell, _base, 2_000, skipChrome: false);
                cells.Add(Collapse(text).Replace("|", "\\|", StringComparison.Ordinal).Trim());
            }

            if (cells.Count > 0)
            {
                rows.Add(cells);
            }

            if (Full || rows.Count > 500)
            {
                break;
            }
        }

        if (rows.Count == 0)
        {
            return;
        }

        int columns = rows.Max(static r => r.Count);
        for (int r = 0; r < rows.Count; r++)
        {
            var cells = rows[r];
            while (cells.Count < columns)
            {
                cells.Add("");
            }

            Line("| " + string.Join(" | ", cells) + " |");
            if (r == 0)
            {
                Line("|" + string.Concat(Enumerable.Repeat(" --- |", columns)));
            }
        }

        Gap();
    }

    private void Link(IElement a)
    {
        string? href = Absolute(a.GetAttribute("href"), allowMail: true);
        if (href is null)
        {
            Children(a);
            return;
        }

        int start = _inline.Length;
        _inline.Append('[');
        _openedAt = _inline.Length;
        Children(a);
        if (_inline.ToString(start + 1, _inline.Length - start - 1).Trim().Length == 0)
        {
            _inline.Length = start;
            return;
        }

        TrimEnd();
        _inline.Append("](").Append(href).Append(')');
    }

    private void Image(IElement img)
    {
        string alt = Collapse(img.GetAttribute("alt") ?? "").Trim();
        string? src = Absolute(img.GetAttribute("src"), allowMail: false);
        if (src is null)
        {
            if (alt.Length > 0)
            {
                Text(alt);
            }

            return;
        }

        _inline.Append("![").Append(alt.Replace("]", "\\]", StringComparison.Ordinal)).Append("](").Append(src).Append(')');
    }

    private void Wrap(IElement e, string marker)
    {
        int start = _inline.Length;
        _inline.Append(marker);
        _openedAt = _inline.Length;
        Children(e);
        if (_inline.ToString(start + marker.Length, _inline.Length - start - marker.Length).Trim().Length == 0)
        {
            _inline.Length = start;
            return;
        }

        TrimEnd();
        _inline.Append(marker);
    }

    private void Text(string data)
    {
        string text = Collapse(data);
        if (text.Length == 0)
        {
            return;
        }

        if (text[0] == ' ' && (_inline.Length == 0 || _inline.Length == _openedAt || _inline[^1] is ' ' or '\n'))
        {
            text = text[1..];
        }

        _inline.Append(text);
    }

    private void TrimEnd()
    {
        while (_inline.Length > 0 && _inline[^1] == ' ')
        {
            _inline.Length--;
        }
    }

    /// <summary>Ends the current paragraph: writes its lines with the block quote and list prefixes, then a blank line.</summary>
    private void Block()
    {
        string text = _inline.ToString().Trim();
        _inline.Clear();
        if (text.Length == 0)
        {
            return;
        }

        foreach (string line in text.Split('\n'))
        {
            Line(line.Trim());
        }

        Gap();
    }

    private void Line(string line)
    {
        for (int i = 0; i < _indent.Count; i++)
        {
            _out.Append(i == _indent.Count - 1 && _marker is not null ? _marker : _indent[i]);
        }

        _marker = null;
        _out.Append(line).Append('\n');
    }

    private void Gap()
    {
        // Blank lines separate top-level blocks; inside lists and quotes one line break keeps items together.
        if (_indent.Count == 0 && _out.Length > 0 && !(_out.Length >= 2 && _out[^1] == '\n' && _out[^2] == '\n'))
        {
            _out.Append('\n');
        }
    }

    private string? Absolute(string? href, bool allowMail)
    {
        if (string.IsNullOrWhiteSpace(href) || href.StartsWith('#'))
        {
            return null;
        }

        if (!(_base is null ? Uri.TryCreate(href.Trim(), UriKind.Absolute, out var uri) : Uri.TryCreate(_base, href.Trim(), out uri)))
        {
            return null;
        }

        return uri.Scheme is "http" or "https" || (allowMail && uri.Scheme == "mailto") ? uri.AbsoluteUri.Replace(" ", "%20", StringComparison.Ordinal).Replace(")", "%29", StringComparison.Ordinal) : null;
    }

    private static string Collapse(string text)
    {
        var builder = new StringBuilder(text.Length);
        bool space = false;
        foreach (char c in text)
        {
            if (char.IsWhiteSpace(c))
            {
                space = true;
                continue;
            }

            if (space)
            {
                builder.Append(' ');
                space = false;
            }

            builder.Append(c);
        }

        if (space)
        {
            builder.Append(' ');
        }

        return builder.ToString();
    }
}
