using Qlaud.Configuration;
using Qlaud.Hosting;

namespace Qlaud.Core.Tests.Hosting;

public sealed class QlaudOptionsValidatorTests
{
    private static readonly IServiceProvider EmptyServices = Microsoft.Extensions.DependencyInjection.ServiceCollectionContainerBuilderExtensions.BuildServiceProvider(new Microsoft.Extensions.DependencyInjection.ServiceCollection());

    [Fact]
    public void Validate_MeteringOutOfRange_FailsNamingEachKey()
    {
        var options = new QlaudOptions { UseBuiltInCatalog = false, Metering = new MeteringOptions { LedgerBatchSize = 0, KeyCacheSeconds = -1 } };

        var result = new QlaudOptionsValidator(EmptyServices).Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains("Qlaud:Metering:LedgerBatchSize", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Qlaud:Metering:KeyCacheSeconds", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_MeteringDefaults_Succeed()
        => Assert.True(new QlaudOptionsValidator(EmptyServices).Validate(null, new QlaudOptions { UseBuiltInCatalog = false }).Succeeded);

    [Fact]
    public void Validate_PostgresWithSearchOn_Succeeds()
    {
        var options = new QlaudOptions { UseBuiltInCatalog = false, Storage = new StorageOptions { Provider = "postgres", ConnectionString = "Host=db" } };

        Assert.True(options.Search.Enabled);
        Assert.True(new QlaudOptionsValidator(EmptyServices).Validate(null, options).Succeeded);
    }

    [Fact]
    public void Validate_ApproximateAboveVectorsNegative_FailsNamingTheKey()
    {
        var options = new QlaudOptions { UseBuiltInCatalog = false, Search = new SearchOptions { ApproximateAboveVectors = -1 } };

        var result = new QlaudOptionsValidator(EmptyServices).Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains("Qlaud:Search:ApproximateAboveVectors must be 0 (off)", result.FailureMessage, StringComparison.Ordinal);
        options.Search.ApproximateAboveVectors = 0;
        Assert.True(new QlaudOptionsValidator(EmptyServices).Validate(null, options).Succeeded);
        options.Search.ApproximateAboveVectors = 1;
        Assert.True(new QlaudOptionsValidator(EmptyServices).Validate(null, options).Succeeded);
    }

    [Fact]
    public void Validate_ThinkingSignatureSecretTooShort_FailsNamingTheKey()
    {
        var options = new QlaudOptions { UseBuiltInCatalog = false, Routing = new RoutingOptions { ThinkingSignatureSecret = "short" } };

        var result = new QlaudOptionsValidator(EmptyServices).Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains("Qlaud:Routing:ThinkingSignatureSecret", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ThinkingSignatureSecretOf32Characters_Succeeds()
    {
        var options = new QlaudOptions { UseBuiltInCatalog = false, Routing = new RoutingOptions { ThinkingSignatureSecret = new string('s', 32), AutoPromptCache = false } };

        Assert.True(new QlaudOptionsValidator(EmptyServices).Validate(null, options).Succeeded);
    }

    [Fact]
    public void Validate_LimitsOutOfRange_FailsNamingEachKey()
    {
        var options = new QlaudOptions
        {
            UseBuiltInCatalog = false,
            Limits = new LimitsOptions { MaxRequestBytes = 10, MaxEventBytes = 1024, LedgerQueueCapacity = 0, StorageTimeoutSeconds = 0, FailedAuthPerMinute = -1 },
        };

        var result = new QlaudOptionsValidator(EmptyServices).Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains("Qlaud:Limits:MaxRequestBytes", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Qlaud:Limits:MaxEventBytes", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Qlaud:Limits:LedgerQueueCapacity", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Qlaud:Limits:StorageTimeoutSeconds", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Qlaud:Limits:FailedAuthPerMinute", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(10_000_001)]
    public void Validate_MaxUnwrittenEntriesOutOfRange_FailsNamingTheKey(int value)
    {
        var options = new QlaudOptions
        {
            UseBuiltInCatalog = false,
            Routing = new RoutingOptions { ThinkingSignatureSecret = new string('s', 32), AutoPromptCache = false },
            Metering = new MeteringOptions { MaxUnwrittenEntries = value },
        };

        var result = new QlaudOptionsValidator(EmptyServices).Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains("Qlaud:Metering:MaxUnwrittenEntries must be between 1 and 10000000.", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.4)]
    [InlineData(3601)]
    public void Validate_BatchClaimSecondsOutOfRange_FailsNamingTheKey(double value)
    {
        var options = new QlaudOptions { UseBuiltInCatalog = false, Batches = new BatchesOptions { ClaimSeconds = value } };

        var result = new QlaudOptionsValidator(EmptyServices).Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains("Qlaud:Batches:ClaimSeconds must be between 0.5 and 3600 seconds.", result.FailureMessage, StringComparison.Ordinal);
        options.Batches.ClaimSeconds = 0.5;
        Assert.True(new QlaudOptionsValidator(EmptyServices).Validate(null, options).Succeeded);
    }
}
