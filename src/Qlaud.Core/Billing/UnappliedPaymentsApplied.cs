namespace Qlaud.Billing;

/// <summary>What <see cref="UnappliedPaymentService.ApplyUnappliedPaymentsAsync"/> applied.</summary>
/// <param name="Count">How many recorded payments this call applied.</param>
/// <param name="AmountMicros">Their signed sum in micro-USD.</param>
internal sealed record UnappliedPaymentsApplied(int Count, long AmountMicros);
