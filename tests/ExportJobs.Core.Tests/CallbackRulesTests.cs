using System.Net;
using ExportJobs.Core.Jobs;

namespace ExportJobs.Core.Tests;

public sealed class CallbackRulesTests
{
    private static readonly CallbackPolicy Azure = new(AllowLoopback: false, Ports: [443]);
    private static readonly CallbackPolicy Local = new(AllowLoopback: true, Ports: [443]);

    [Theory]
    [InlineData("https://hooks.acme.io/export")]
    [InlineData("https://hooks.acme.io:443/export?x=1")]
    [InlineData("https://a-b.c0.acme.co.uk/p")]
    [InlineData("https://xn--80ak6aa92e.com/hook")]
    public void A_public_https_name_on_443_is_allowed(string url) => Assert.Null(CallbackRules.Refusal(url, Azure));

    [Theory]
    [InlineData("https://vm/hook", "fully qualified")]
    [InlineData("https://localhost/hook", "loopback")]
    [InlineData("https://localhost./hook", "fully qualified")]
    [InlineData("https://foo.localhost/hook", "loopback")]
    [InlineData("http://127.0.0.1:8080/hook", "loopback")]
    [InlineData("https://[::1]/hook", "loopback")]
    [InlineData("https://169.254.169.254/latest", "no IP address")]
    [InlineData("https://[::ffff:169.254.169.254]/latest", "no IP address")]
    [InlineData("https://2130706433/hook", "")]
    [InlineData("https://metadata.google.internal/computeMetadata", "private")]
    [InlineData("https://kubernetes.default.svc/api", "private")]
    [InlineData("https://printer.local/hook", "private")]
    [InlineData("https://hooks.acme.io:22/hook", "port 443")]
    [InlineData("https://hooks.acme.io:0/hook", "port 443")]
    [InlineData("https://hooks.acme.io/a\r\nX-Injected: 1", "control characters")]
    [InlineData("https://hooks.acme.io/a b", "control characters")]
    [InlineData("https://HOOKS.acme.io/hook", "lower-case")]
    [InlineData("https://hooks.acme.io./hook", "lower-case")]
    [InlineData("https://hooks%2Eacme.io/hook", "")]
    [InlineData("https://user:pw@hooks.acme.io/hook", "credentials")]
    [InlineData("http://hooks.acme.io/hook", "https")]
    [InlineData("ftp://hooks.acme.io/hook", "https")]
    public void Hosts_that_can_lead_inside_and_other_ports_are_refused_at_creation(string url, string reason)
    {
        string? refusal = CallbackRules.Refusal(url, Azure);
        Assert.NotNull(refusal);
        Assert.Contains(reason, refusal);
    }

    [Fact]
    public void Loopback_is_allowed_only_where_the_host_says_so()
    {
        Assert.Null(CallbackRules.Refusal("http://127.0.0.1:5001/hook", Local));
        Assert.NotNull(CallbackRules.Refusal("http://127.0.0.1:5001/hook", Azure));
        Assert.NotNull(CallbackRules.Refusal("http://10.0.0.1:5001/hook", Local));
        Assert.NotNull(CallbackRules.Refusal("https://[::ffff:127.0.0.1]/hook", Local));
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("127.0.0.1")]
    [InlineData("127.255.0.9")]
    [InlineData("10.1.2.3")]
    [InlineData("172.16.0.1")]
    [InlineData("172.31.255.255")]
    [InlineData("192.168.1.1")]
    [InlineData("169.254.169.254")]
    [InlineData("100.64.0.1")]
    [InlineData("100.127.255.255")]
    [InlineData("224.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("::")]
    [InlineData("::1")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("64:ff9b::a9fe:a9fe")]
    [InlineData("fe80::1")]
    [InlineData("fc00::1")]
    [InlineData("fd00:ec2::254")]
    [InlineData("ff02::1")]
    [InlineData("2002:7f00:1::")]
    public void Addresses_inside_are_not_public(string address) => Assert.False(CallbackAddressRules.IsPublic(IPAddress.Parse(address)));

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("172.32.0.1")]
    [InlineData("100.128.0.1")]
    [InlineData("2606:4700:4700::1111")]
    public void Public_addresses_are_public(string address) => Assert.True(CallbackAddressRules.IsPublic(IPAddress.Parse(address)));
}
