using Microsoft.Data.Sqlite;

namespace Qlaud.AspNetCore.Tests.Infrastructure;

/// <summary>A SQLite file in the temp folder for one test, deleted (with its WAL and shared-memory files) on dispose.</summary>
public sealed class TempDatabase : IDisposable
{
    public TempDatabase() => Path = NewPath();

    public string Path { get; }

    public string ConnectionString => $"Data Source={Path}";

    public static string NewPath() => System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"qlaud-test-{Guid.NewGuid():N}.db");

    public static void Delete(string path)
    {
        SqliteConnection.ClearAllPools();
        foreach (string file in (ReadOnlySpan<string>)[path, path + "-wal", path + "-shm"])
        {
            try
            {
                File.Delete(file);
            }
            catch (IOException)
            {
                // Best effort: a file still held open is left in the temp folder.
            }
        }
    }

    public void Dispose() => Delete(Path);
}
