using Grpc.Core;
using TcpStore.Etcd;

namespace TcpStore.Tests.Etcd;

/// <summary>Which failed etcd calls the engine tries again (until the request timeout) and which it reports at once.</summary>
public sealed class EtcdTransientErrorTests
{
    [Fact]
    public void A_call_cancelled_by_the_connect_timeout_is_tried_again()
    {
        // What SocketsHttpHandler's ConnectTimeout produced against a TLS member on a loaded machine
        // (EtcdTlsTests saw it escape as a raw RpcException before).
        var timeout = new TaskCanceledException("The operation was canceled.", new TimeoutException("A connection could not be established within the configured ConnectTimeout."));
        var error = new RpcException(new Status(StatusCode.Cancelled, string.Empty, new OperationCanceledException("The operation was canceled.", timeout)));

        Assert.True(EtcdCluster.IsTransient(error));
    }

    [Fact]
    public void A_call_cancelled_for_any_other_reason_is_not()
    {
        Assert.False(EtcdCluster.IsTransient(new RpcException(new Status(StatusCode.Cancelled, string.Empty, new OperationCanceledException()))));
        Assert.False(EtcdCluster.IsTransient(new RpcException(new Status(StatusCode.Cancelled, string.Empty))));
    }

    [Theory]
    [InlineData(StatusCode.Unavailable, true)]
    [InlineData(StatusCode.DeadlineExceeded, true)]
    [InlineData(StatusCode.InvalidArgument, false)]
    [InlineData(StatusCode.PermissionDenied, false)]
    public void Other_statuses_keep_their_verdict(StatusCode status, bool transient)
    {
        Assert.Equal(transient, EtcdCluster.IsTransient(new RpcException(new Status(status, string.Empty))));
    }
}
