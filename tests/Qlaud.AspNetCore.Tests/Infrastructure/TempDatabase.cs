using Microsoft.Data.Sqlite;

namespace Qlaud.AspNetCore.Tests.Infrastructure;

/// <summary>A SQLite file in the temp folder for one test, deleted (with its WAL and shared-memory files) on dispose.</summary>
public sealed class TempDatabase : IDisposable
{
    public TempDatabase() => Path = NewPath();

    public string Path { get; }

    public string ConnectionString => $"Data Source={Path}";

    /// <summary>The folder of the gateway's files (<c>Qlaud:Storage:FilesPath</c>) for the database at <paramref name="path"/>, deleted with it.</summary>
    public static string FilesPath(string path) => path + "-files";

    /// <summary>The files folder of this database.</summary>
    public string Files => FilesPath(Path);

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

        try
        {
            if (Directory.Exists(FilesPath(path)))
            {
                Directory.Delete(FilesPath(path), recursive: true);
            }
        }
        catch (IOException)
        {
            // Best effort, as above.
        }
    }

    public void Dispose() => Delete(Path);
}
