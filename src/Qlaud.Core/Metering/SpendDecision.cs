namespace Qlaud.Metering;

/// <summary>The answer of <see cref="ISpendGuard.ReserveAsync"/>: a reservation to settle or release, or the error to answer with.</summary>
/// <remarks>Errors: <see cref="QlaudErrorKind.PaymentRequired"/> (402: over the key's cap, or the wallet cannot cover the
/// worst case), <see cref="QlaudErrorKind.RateLimited"/> (429, with <see cref="QlaudError.RetryAfter"/>),
/// <see cref="QlaudErrorKind.Authentication"/> (401: the key was revoked, disabled or expired since it authenticated).</remarks>
internal readonly record struct SpendDecision(SpendReservation? Reservation, QlaudError? Error)
{
    public bool IsAdmitted => Reservation is not null;

    public static SpendDecision Admit(SpendReservation reservation) => new(reservation, null);

    public static SpendDecision Refuse(QlaudError error) => new(null, error);
}

/// <summary>Helpers for the in-process path.</summary>
internal static class SpendDecisionExtensions
{
    /// <summary>The reservation, or a <see cref="QlaudException"/> carrying the refusal (<see cref="QlaudErrorKind.PaymentRequired"/>
    /// for an exhausted cap or wallet, <see cref="QlaudErrorKind.RateLimited"/> with <see cref="QlaudError.RetryAfter"/>).</summary>
    public static SpendReservation ReservationOrThrow(this SpendDecision decision)
        => decision.Reservation ?? throw new QlaudException(decision.Error!);
}
