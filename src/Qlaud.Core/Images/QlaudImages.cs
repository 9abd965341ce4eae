using System.Text.Json;
using Microsoft.Extensions.Options;
using Qlaud.Catalog;
using Qlaud.Configuration;
using Qlaud.Forwarding;
using Qlaud.Metering;
using Qlaud.Providers;
using Qlaud.Routing;

namespace Qlaud.Images;

/// <summary>The image generation engine: the router picks the image model's routes, the attempt policy tries them, and the call
/// is metered per image through <see cref="MeteredCall"/>, the settle table every request path shares.</summary>
internal sealed class QlaudImages : IQlaudImages
{
    private readonly Router _router;
    private readonly UpstreamClient _upstream;
    private readonly AttemptPolicy _policy;
    private readonly ISpendGuard _guard;
    private readonly QlaudCallerResolver _callers;
    private readonly bool _metered;
    private readonly decimal _markupPercent;

    public QlaudImages(Router router, UpstreamClient upstream, AttemptPolicy policy, ISpendGuard guard, QlaudCallerResolver callers, IOptions<QlaudOptions> options)
    {
        _router = router;
        _upstream = upstream;
        _policy = policy;
        _guard = guard;
        _callers = callers;
        _metered = options.Value.Metering.Enabled;
        _markupPercent = options.Value.Pricing.MarkupPercent;
    }

    public Task<QlaudImageResult> GenerateAsync(QlaudImageRequest request, CancellationToken cancellationToken = default)
        => GenerateAsync(request, Diagnostics.RequestIds.New(), cancellationToken);

    /// <summary>The same under the request id <paramref name="requestId"/> (the HTTP surface names it in <c>x-qlaud-request-id</c> first).</summary>
    public async Task<QlaudImageResult> GenerateAsync(QlaudImageRequest request, string requestId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (ImagesWire.Validate(request) is { } invalid)
        {
            throw new QlaudException(new QlaudError(QlaudErrorKind.InvalidRequest, invalid));
        }

        var caller = request.Caller ?? await _callers.ResolvePropertiesOrThrowAsync(null, cancellationToken).ConfigureAwait(false);
        var routing = request.Models is { Count: > 0 } models ? new RoutingRequest { Models = models } : null;
        var selection = _router.Select(request.Model, routing, RequestTraits.ForImages(request.Prompt.Length / 4));
        if (selection.Error is { } error)
        {
            throw new QlaudException(error);
        }

        MeteredCall? call = null;
        if (_metered)
        {
            var (reserved, refusal) = await MeteredCall.ReserveAsync(_guard, caller, selection.Candidates, Estimate(selection.Candidates, request),
                requestId, request.EndUserId, cancellationToken).ConfigureAwait(false);
            call = reserved ?? throw new QlaudException(refusal!);
        }

        var scope = new ImageScope(this, request) { Meter = call, RequestedModel = request.Model };
        var end = CallEnd.Faulted;
        try
        {
            var summary = await _policy.RunAsync(scope, selection.Candidates, static (s, ct) => s.Engine.AttemptAsync(s, ct), cancellationToken).ConfigureAwait(false);
            end = CallEnd.Completed;
            if (!summary.Completed)
            {
                throw new QlaudException(summary.Error!);
            }

            if (scope.Error is { } answered)
            {
                call?.ErrorRelayed();
                throw new QlaudException(answered);
            }

            var route = summary.Route!;
            call?.Delivered(route.Name);
            return scope.Result! with
            {
                Model = route.ModelId,
                Route = route.Name,
                Attempts = summary.Attempts,
                CostMicros = scope.CostMicros,
                RequestId = call is null ? null : requestId,
            };
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            end = CallEnd.Cancelled;
            throw;
        }
        finally
        {
            call?.Close(end);
        }
    }

    /// <summary>The worst case of the request on its candidates: the dearest route's price for the requested quality and size,
    /// times the images asked for, plus markup.</summary>
    private SpendEstimate Estimate(IReadOnlyList<CatalogRoute> candidates, QlaudImageRequest request)
    {
        long worst = 0;
        for (int i = 0; i < candidates.Count; i++)
        {
            long perImage = candidates[i].ImagePrice?.Cost(request.Quality, request.Size) ?? 0;
            worst = Math.Max(worst, perImage * request.N);
        }

        return new SpendEstimate(request.Prompt.Length / 4, 0, MarkupPricing.Charge(worst, _markupPercent));
    }

    /// <summary>One attempt: send the request to the route's <c>/images/generations</c>, judge the status, read the whole answer.</summary>
    private async ValueTask<AttemptResult> AttemptAsync(ImageScope scope, CancellationToken cancellationToken)
    {
        var route = scope.Route;
        using var body = new PooledBufferWriter();
        using (var writer = new Utf8JsonWriter(body))
        {
            ImagesWire.WriteRequest(writer, route.UpstreamModel, scope.Request);
        }

        using var deadline = new UpstreamDeadline(_policy.Health.Time, cancellationToken);
        scope.MarkSent();
        using var result = await _upstream.SendImagesAsync(route, body.WrittenMemory, deadline).ConfigureAwait(false);
        if (result.Failure is { } failure)
        {
            return AttemptResult.Retry(new QlaudError(failure.Kind, failure.Message), failure.ErrorType);
        }

        var response = result.Response!;
        int status = (int)response.StatusCode;
        var content = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var whole = new PooledBufferWriter();
        if (await ChatForwarder.ReadWholeAsync(content, whole, scope, deadline, route).ConfigureAwait(false) is { } broken)
        {
            return broken;
        }

        if (status >= 400)
        {
            var answer = UpstreamStatus.Answer(route, status, whole.WrittenSpan, response, scope.HasMoreCandidates, _policy.Health.Time, out var error);
            scope.Error = error ?? scope.Error;
            return answer;
        }

        try
        {
            var images = ImagesWire.ReadResponse(whole.WrittenSpan, scope.Request, _policy.Health.Time.GetUtcNow());
            long perImage = route.ImagePrice?.Cost(images.Quality, images.Size) ?? 0;
            scope.Result = images;
            scope.Error = null;
            scope.CostMicros = perImage * images.Images.Count;
            if (scope.Meter is { } meter)
            {
                meter.PricedCostMicros = scope.CostMicros;
            }

            scope.SetUsage(images.Usage);
            scope.SetResponseModel(route.UpstreamModel);
            return AttemptResult.Success();
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            return AttemptResult.Retry(new QlaudError(QlaudErrorKind.UpstreamError,
                $"The provider '{route.Provider.Name}' answered with a body Qlaud could not read as images: {ex.Message}"), "invalid_response");
        }
    }

    /// <summary>One image request's run over its routes.</summary>
    private sealed class ImageScope(QlaudImages engine, QlaudImageRequest request) : AttemptScope
    {
        public QlaudImages Engine { get; } = engine;

        public QlaudImageRequest Request { get; } = request;

        /// <summary>The images, once a route answered.</summary>
        public QlaudImageResult? Result { get; set; }

        /// <summary>The upstream cost of <see cref="Result"/> at the answering route's image price.</summary>
        public long CostMicros { get; set; }

        /// <summary>An upstream error the caller receives as is (for example a 400).</summary>
        public QlaudError? Error { get; set; }
    }
}
