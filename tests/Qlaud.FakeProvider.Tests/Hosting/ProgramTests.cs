namespace Qlaud.FakeProvider.Tests.Hosting;

public sealed class ProgramTests
{
    [Fact]
    public void ParseArguments_BenchmarkCommandLine_SetsEveryOption()
    {
        var options = Program.ParseArguments(["--urls", "http://127.0.0.1:9100", "--latency-ms", "20", "--chunk-size", "8", "--chunk-delay-ms", "2", "--text", "bench"]);

        Assert.Equal(9100, options.Port);
        Assert.Equal(TimeSpan.FromMilliseconds(20), options.Latency);
        Assert.Equal(8, options.ChunkSize);
        Assert.Equal(TimeSpan.FromMilliseconds(2), options.ChunkDelay);
        Assert.Equal("bench", options.DefaultText);
        Assert.False(options.RecordRequests);
    }

    [Fact]
    public void ParseArguments_Record_TurnsRecordingOn()
        => Assert.True(Program.ParseArguments(["--port", "0", "--record"]).RecordRequests);

    [Theory]
    [InlineData("--urls", "http://10.0.0.5:9100")]
    [InlineData("--urls", "https://127.0.0.1:9100")]
    [InlineData("--chunk-size", "0")]
    [InlineData("--latency-ms", "soon")]
    [InlineData("--colour", "blue")]
    public void ParseArguments_BadValue_ThrowsFormatException(string name, string value)
        => Assert.Throws<FormatException>(() => Program.ParseArguments([name, value]));

    [Fact]
    public void ParseArguments_MissingValue_ThrowsFormatException()
        => Assert.Throws<FormatException>(() => Program.ParseArguments(["--chunk-size"]));
}
