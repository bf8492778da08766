namespace TcpStore.Client;

/// <summary>
/// Unwraps the result of a <c>sync: true</c> call. Those complete before returning, but a pooled
/// <see cref="ValueTask"/> must never be blocked on, so an unexpected pending one goes through a Task.
/// </summary>
internal static class SyncOverValueTask
{
    public static T Result<T>(ValueTask<T> task) => task.IsCompleted ? task.GetAwaiter().GetResult() : task.AsTask().GetAwaiter().GetResult();

    public static void Complete(ValueTask task)
    {
        if (task.IsCompleted)
        {
            task.GetAwaiter().GetResult();
        }
        else
        {
            task.AsTask().GetAwaiter().GetResult();
        }
    }
}
