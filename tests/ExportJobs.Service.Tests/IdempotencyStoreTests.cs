using ExportJobs.Service.Idempotency;
using ExportJobs.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ExportJobs.Service.Tests;

public class IdempotencyStoreTests
{
    [Fact]
    public async Task A_key_replays_its_result_refuses_another_payload_and_is_freed_when_its_request_died()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 28, 10, 0, 0, TimeSpan.Zero));
        await using var harness = await ServiceHarness.StartAsync(s => s.AddSingleton<TimeProvider>(clock));
        var store = harness.Get<IdempotencyStore>();
        var tenant = harness.Tenant;

        Assert.Equal(IdempotencyVerdict.Proceed, (await store.BeginAsync(tenant, "jobs", "k1", "hash-a", default)).Verdict);
        Assert.Equal(IdempotencyVerdict.Mismatch, (await store.BeginAsync(tenant, "jobs", "k1", "hash-b", default)).Verdict);
        await store.CompleteAsync(tenant, "jobs", "k1", "42", default);
        Assert.Equal((IdempotencyVerdict.Replay, "42"), await store.BeginAsync(tenant, "jobs", "k1", "hash-a", default));
        Assert.Equal(IdempotencyVerdict.Proceed, (await store.BeginAsync(tenant, "batches|ds", "k1", "hash-a", default)).Verdict);

        // A request that took a key and died: repeats are told it is in progress, until it is clearly abandoned.
        Assert.Equal(IdempotencyVerdict.Proceed, (await store.BeginAsync(tenant, "jobs", "k2", "hash-a", default)).Verdict);
        var waiting = store.BeginAsync(tenant, "jobs", "k2", "hash-a", default);
        while (!waiting.IsCompleted) { clock.Advance(TimeSpan.FromSeconds(1)); await Task.Yield(); await Task.Delay(1); }
        Assert.Equal(IdempotencyVerdict.InProgress, (await waiting).Verdict);
        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(IdempotencyVerdict.Proceed, (await store.BeginAsync(tenant, "jobs", "k2", "hash-a", default)).Verdict);

        // After the window, a key starts over.
        clock.Advance(TimeSpan.FromDays(2));
        Assert.Equal(IdempotencyVerdict.Proceed, (await store.BeginAsync(tenant, "jobs", "k1", "hash-b", default)).Verdict);
    }
}
