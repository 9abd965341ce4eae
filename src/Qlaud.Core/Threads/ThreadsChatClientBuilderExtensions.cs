using Microsoft.Extensions.DependencyInjection;
using Qlaud;
using Qlaud.Metering;
using Qlaud.Threads;

namespace Microsoft.Extensions.AI;

/// <summary>Adds Qlaud's managed threads to a <see cref="ChatClientBuilder"/> pipeline.</summary>
public static class ThreadsChatClientBuilderExtensions
{
    /// <summary>
    /// Makes <see cref="ChatOptions.ConversationId"/> a Qlaud thread: a call that names a thread id (<c>thr_…</c>, from
    /// <see cref="IQlaudThreads.CreateAsync"/> or <c>POST /v1/threads</c>) is sent with the thread's history first, and its new
    /// messages and the answer are appended to the thread. Calls without a thread id pass through.
    /// </summary>
    /// <param name="builder">The pipeline; its services must come from an app that called <c>AddQlaud()</c>.</param>
    /// <returns><paramref name="builder"/>.</returns>
    /// <remarks>
    /// Order it as the pipeline needs: outside <c>UseQlaudMetering()</c> (each call with its history is metered), and inside
    /// <c>UseFunctionInvocation()</c> when tool calls and their results should be stored in the thread as they happen.
    /// </remarks>
    public static ChatClientBuilder UseQlaudThreads(this ChatClientBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use(static (inner, services) => new ThreadsChatClient(inner,
            services.GetRequiredService<IThreadStore>(),
            services.GetRequiredService<IThreadTurnLock>(),
            services.GetRequiredService<QlaudCallerResolver>(),
            services.GetRequiredService<Qlaud.Routing.Router>(),
            services.GetRequiredService<TimeProvider>()));
    }
}
