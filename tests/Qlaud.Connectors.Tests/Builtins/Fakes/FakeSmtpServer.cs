using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Qlaud.Connectors.Tests.Builtins.Fakes;

/// <summary>
/// A mail server on 127.0.0.1 (port 0) that speaks just enough SMTP (RFC 5321) for MailKit: the greeting, <c>EHLO</c> (advertising
/// <c>AUTH PLAIN LOGIN</c>), <c>AUTH PLAIN</c>/<c>AUTH LOGIN</c>, <c>MAIL FROM</c>, <c>RCPT TO</c>, <c>DATA</c> (dot-unstuffed until
/// the lone dot), <c>RSET</c>, <c>NOOP</c>, <c>QUIT</c>. Every accepted message is captured with its envelope and login; logins
/// other than the one given are refused with 535, recipients in <see cref="RejectRecipient"/> with 550.
/// </summary>
public sealed class FakeSmtpServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<SmtpMessage> _messages = new();
    private readonly string _user;
    private readonly string _password;
    private readonly Task _accepting;

    private FakeSmtpServer(string user, string password)
    {
        _user = user;
        _password = password;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>The port it listens on.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The messages accepted, in order.</summary>
    public IReadOnlyList<SmtpMessage> Messages => [.. _messages];

    /// <summary>A recipient address refused at <c>RCPT TO</c>.</summary>
    public string? RejectRecipient { get; set; }

    /// <summary>How long to wait before the greeting (to test timeouts).</summary>
    public TimeSpan GreetingDelay { get; set; }

    public static FakeSmtpServer Start(string user, string password) => new(user, password);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            var ct = timeout.Token;
            var stream = client.GetStream();
            var reader = new StreamReader(stream, Encoding.UTF8);
            var writer = new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\r\n", AutoFlush = true };
            if (GreetingDelay > TimeSpan.Zero)
            {
                await Task.Delay(GreetingDelay, ct);
            }

            await writer.WriteLineAsync("220 fake.smtp.test ESMTP ready");
            string? mailFrom = null;
            string? authUser = null;
            var recipients = new List<string>();
            while (await reader.ReadLineAsync(ct) is { } line)
            {
                string verb = line.Split(' ', 2)[0].ToUpperInvariant();
                string argument = line.Length > verb.Length ? line[(verb.Length + 1)..] : "";
                switch (verb)
                {
                    case "EHLO":
                        await writer.WriteLineAsync("250-fake.smtp.test greets " + argument);
                        await writer.WriteLineAsync("250-AUTH PLAIN LOGIN");
                        await writer.WriteLineAsync("250 8BITMIME");
                        break;
                    case "HELO":
                        await writer.WriteLineAsync("250 fake.smtp.test");
                        break;
                    case "AUTH":
                        authUser = await AuthenticateAsync(argument, reader, writer, ct);
                        break;
                    case "MAIL":
                        mailFrom = Angle(argument);
                        recipients.Clear();
                        await writer.WriteLineAsync("250 2.1.0 Ok");
                        break;
                    case "RCPT":
                        string recipient = Angle(argument);
                        if (string.Equals(recipient, RejectRecipient, StringComparison.OrdinalIgnoreCase))
                        {
                            await writer.WriteLineAsync($"550 5.1.1 <{recipient}>: Recipient address rejected: User unknown");
                        }
                        else
                        {
                            recipients.Add(recipient);
                            await writer.WriteLineAsync("250 2.1.5 Ok");
                        }

                        break;
                    case "DATA":
                        await writer.WriteLineAsync("354 End data with <CR><LF>.<CR><LF>");
                        var data = new StringBuilder();
                        while (await reader.ReadLineAsync(ct) is { } dataLine && dataLine != ".")
                        {
                            data.Append(dataLine.StartsWith("..", StringComparison.Ordinal) ? dataLine[1..] : dataLine).Append("\r\n");
                        }

                        _messages.Enqueue(new SmtpMessage(mailFrom, [.. recipients], authUser, data.ToString()));
                        await writer.WriteLineAsync("250 2.0.0 Ok: queued as 4F2A1");
                        break;
                    case "RSET":
                        mailFrom = null;
                        recipients.Clear();
                        await writer.WriteLineAsync("250 2.0.0 Ok");
                        break;
                    case "NOOP":
                        await writer.WriteLineAsync("250 2.0.0 Ok");
                        break;
                    case "QUIT":
                        await writer.WriteLineAsync("221 2.0.0 Bye");
                        return;
                    default:
                        await writer.WriteLineAsync("502 5.5.2 Error: command not recognized");
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // the client went away
        }
    }

    private async Task<string?> AuthenticateAsync(string argument, StreamReader reader, StreamWriter writer, CancellationToken ct)
    {
        string[] parts = argument.Split(' ', 2);
        string? user;
        string? password;
        if (parts[0].Equals("PLAIN", StringComparison.OrdinalIgnoreCase))
        {
            string response = parts.Length > 1 ? parts[1] : await Challenge("", reader, writer, ct);
            string[] fields = Encoding.UTF8.GetString(Convert.FromBase64String(response)).Split('\0');
            (user, password) = (fields[1], fields[2]);
        }
        else if (parts[0].Equals("LOGIN", StringComparison.OrdinalIgnoreCase))
        {
            user = Encoding.UTF8.GetString(Convert.FromBase64String(parts.Length > 1 ? parts[1] : await Challenge("VXNlcm5hbWU6", reader, writer, ct)));
            password = Encoding.UTF8.GetString(Convert.FromBase64String(await Challenge("UGFzc3dvcmQ6", reader, writer, ct)));
        }
        else
        {
            await writer.WriteLineAsync("504 5.5.4 Unrecognized authentication type");
            return null;
        }

        if (user == _user && password == _password)
        {
            await writer.WriteLineAsync("235 2.7.0 Authentication successful");
            return user;
        }

        await writer.WriteLineAsync("535 5.7.8 Error: authentication failed");
        return null;
    }

    private static async Task<string> Challenge(string challenge, StreamReader reader, StreamWriter writer, CancellationToken ct)
    {
        await writer.WriteLineAsync("334 " + challenge);
        return await reader.ReadLineAsync(ct) ?? "";
    }

    private static string Angle(string argument)
    {
        int open = argument.IndexOf('<', StringComparison.Ordinal);
        int close = argument.IndexOf('>', StringComparison.Ordinal);
        return open >= 0 && close > open ? argument[(open + 1)..close] : argument;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}

/// <summary>A message the fake mail server accepted: its envelope, who logged in, and the message as sent (after DATA).</summary>
public sealed record SmtpMessage(string? MailFrom, IReadOnlyList<string> Recipients, string? AuthenticatedUser, string Data);
