using Qlaud.Storage.Postgres;

namespace Qlaud.Core.Tests.Storage.Postgres;

/// <summary>The snippet of a PostgreSQL keyword hit: <c>ts_headline</c>'s marks, made on the folded text, laid over the text as written.</summary>
public sealed class PostgresSearchStoreTests
{
    [Fact]
    public void Snippet_AccentedWord_MarkedAsWritten()
        => Assert.Equal("We met at the <mark>CAFÉ</mark>…", PostgresSearchStore.Snippet("we met at the <mark>cafe</mark>", "We met at the CAFÉ near the bakery."));

    [Fact]
    public void Snippet_CombiningAccent_KeptInsideTheMark()
        => Assert.Equal("…a <mark>Cafe\u0301</mark> time", PostgresSearchStore.Snippet("a <mark>cafe</mark> time", "Just a Cafe\u0301 time"));

    [Fact]
    public void Snippet_TextWithAngleBrackets_CopiedAsWritten()
        => Assert.Equal("if a <b> <mark>Lisbon</mark>", PostgresSearchStore.Snippet("if a <b> <mark>lisbon</mark>", "if a <b> Lisbon"));

    [Fact]
    public void Snippet_HeadlineNotInTheText_TheOpening()
        => Assert.Equal("Hello there", PostgresSearchStore.Snippet("<mark>other</mark> words", "Hello there"));

    [Fact]
    public void FoldedText_CaseAccentsAndNul_Folded()
        => Assert.Equal("senora cafe x y", PostgresSearchStore.FoldedText("Señora CAFÉ x\0y"));
}
