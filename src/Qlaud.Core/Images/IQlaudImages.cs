namespace Qlaud.Images;

/// <summary>
/// Image generation through Qlaud's routing: the request goes to an image model of the catalog (capability <c>images</c>) on an
/// OpenAI-dialect provider (<c>POST {BaseUrl}/images/generations</c>), with the same fallbacks, retries and metering as chat.
/// <c>POST /v1/images/generations</c> and the <c>image_generation</c> builtin tool call it.
/// </summary>
/// <remarks>
/// <para>Billing: each image is priced at the route's catalog image price for the quality and size the provider reports (else the
/// requested ones; <c>auto</c> or unlisted: the flat <c>ImagePrice</c>, else the dearest listed price), plus
/// <c>Qlaud:Pricing:MarkupPercent</c>. The worst case (the dearest candidate route's price for the requested quality and size, times
/// <c>n</c>) is reserved against the caller's key cap and wallet before any provider call; over a cap the call throws
/// <see cref="QlaudException"/> (402) and no provider is called. The images delivered are settled into the ledger; an upstream
/// error or every route failing releases the reservation.</para>
/// <para>Failures throw <see cref="QlaudException"/> with the error the HTTP surface answers: 400 for bad input or a model that is
/// not an image model, 404 for an unknown model, the upstream's status for an upstream error, 502/503/504 for Qlaud's own.</para>
/// </remarks>
public interface IQlaudImages
{
    /// <summary>Generates images for <paramref name="request"/>.</summary>
    /// <param name="request">The prompt, the model and the options.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The images (bytes, or the provider's URL when it answered with one) and what they cost.</returns>
    /// <exception cref="QlaudException">The request was refused (invalid, over a cap) or no route answered.</exception>
    Task<QlaudImageResult> GenerateAsync(QlaudImageRequest request, CancellationToken cancellationToken = default);
}
