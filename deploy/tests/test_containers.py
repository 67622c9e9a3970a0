"""The container test: the real image (deploy/Dockerfile), PostgreSQL and three accord-server
replicas on a private Docker network, driven with the Python grpcio client.

- ballots spread over the three replicas are seen at once through every replica, and a watch on
  another replica sees every one of them;
- `docker kill` of one replica under load loses no acknowledged ballot, and the others keep
  serving;
- a rolling restart (each replica stopped with SIGTERM, started again, one after the other) seen
  through nginx at one address: a client that retries UNAVAILABLE sees no failed request.

Run with deploy/tests/run.sh, which builds the image and the stubs. Environment: ACCORD_IMAGE
(the image under test), ACCORD_POSTGRES_IMAGE and ACCORD_NGINX_IMAGE (official or built by
deploy/images/build-bases.sh), ACCORD_PY_GENERATED (the stubs).
"""

import datetime
import os
import random
import subprocess
import sys
import threading
import time
import uuid

import grpc
import pytest

sys.path.insert(0, os.environ["ACCORD_PY_GENERATED"])

from google.protobuf import timestamp_pb2  # noqa: E402

from accord.v1 import ballot_pb2  # noqa: E402
from accord.v1 import member_service_pb2  # noqa: E402
from accord.v1 import member_service_pb2_grpc  # noqa: E402
from accord.v1 import proposal_pb2  # noqa: E402
from accord.v1 import proposal_service_pb2  # noqa: E402
from accord.v1 import proposal_service_pb2_grpc  # noqa: E402

IMAGE = os.environ.get("ACCORD_IMAGE", "accord:test")
POSTGRES_IMAGE = os.environ.get("ACCORD_POSTGRES_IMAGE", "postgres:15-bookworm")
NGINX_IMAGE = os.environ.get("ACCORD_NGINX_IMAGE", "nginx:1.27-bookworm")
RPC_TIMEOUT_S = 10
REPLICAS = 3
MEMBERS = ["ALB", "BEL", "BGR", "CAN", "HRV", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC"]


def docker(*args, check=True, timeout=180):
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def wait_until(what, predicate, timeout=120, every=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"{what} did not happen within {timeout} s")


class Cluster:
    """PostgreSQL, three replicas and nginx on a private network with fixed addresses."""

    def __init__(self):
        self.tag = uuid.uuid4().hex[:8]
        self.net = f"accord-test-{self.tag}"
        octet = random.randint(16, 250)
        self.subnet = f"10.{octet}.{random.randint(0, 255)}"
        docker("network", "create", "--subnet", f"{self.subnet}.0/24", self.net)
        self.containers = []
        self.pg = self.name("postgres")
        self.pg_ip = f"{self.subnet}.10"
        self.replicas = [self.name(f"accord-{i + 1}") for i in range(REPLICAS)]
        self.replica_ips = [f"{self.subnet}.{21 + i}" for i in range(REPLICAS)]
        self.lb = self.name("lb")
        self.lb_ip = f"{self.subnet}.30"

    def name(self, role):
        return f"{role}-{self.tag}"

    def run(self, name, ip, *options, image, env=None):
        """`docker run -d` of `image` as `name` at `ip`, with docker `options` and `env`."""
        command = ["run", "-d", "--name", name, "--network", self.net, "--ip", ip, *options]
        for key, value in (env or {}).items():
            command += ["-e", f"{key}={value}"]
        docker(*command, image)
        self.containers.append(name)

    def start(self):
        self.run(self.pg, self.pg_ip, image=POSTGRES_IMAGE, env={
            "POSTGRES_USER": "accord", "POSTGRES_PASSWORD": "accord", "POSTGRES_DB": "accord"})
        wait_until("PostgreSQL ready", lambda: docker(
            "exec", self.pg, "pg_isready", "-U", "accord", "-d", "accord", check=False,
        ).endswith("accepting connections"))
        url = f"postgres://accord:accord@{self.pg_ip}:5432/accord"
        for name, ip in zip(self.replicas, self.replica_ips):
            self.run(name, ip, image=IMAGE, env={
                "ACCORD_DATABASE_URL": url, "ACCORD_SHUTDOWN_GRACE_MS": "10000"})
        for name in self.replicas:
            self.wait_healthy(name)
        conf = self.nginx_conf()
        path = f"/tmp/accord-nginx-{self.tag}.conf"
        with open(path, "w") as f:
            f.write(conf)
        self.run(self.lb, self.lb_ip, "-v", f"{path}:/etc/nginx/nginx.conf:ro", image=NGINX_IMAGE)
        wait_until("nginx answering", lambda: self.serving(f"{self.lb_ip}:50051"))

    def nginx_conf(self):
        with open(os.path.join(os.path.dirname(__file__), "..", "nginx.conf")) as f:
            conf = f.read()
        for i, ip in enumerate(self.replica_ips):
            conf = conf.replace(f"server accord-{i + 1}:50051", f"server {ip}:50051")
        return conf

    def wait_healthy(self, name, timeout=120):
        wait_until(f"{name} healthy", lambda: subprocess.run(
            ["docker", "exec", name, "accord", "health"], capture_output=True).returncode == 0,
            timeout=timeout)

    @staticmethod
    def serving(address):
        channel = grpc.insecure_channel(address)
        try:
            stub = member_service_pb2_grpc.MemberServiceStub(channel)
            stub.GetMember(member_service_pb2.GetMemberRequest(name="members/USA"), timeout=2)
            return True
        except grpc.RpcError:
            return False
        finally:
            channel.close()

    def logs(self):
        out = []
        for name in self.containers:
            result = subprocess.run(["docker", "logs", "--tail", "30", name],
                                    capture_output=True, text=True)
            out.append(f"--- {name} ---\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        return "\n".join(out)

    def remove(self):
        for name in reversed(self.containers):
            docker("rm", "-f", "-v", name, check=False)
        docker("network", "rm", self.net, check=False)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    try:
        c.start()
        yield c
    except BaseException:
        print(c.logs())
        raise
    finally:
        c.remove()


def stubs(address):
    channel = grpc.insecure_channel(address)
    return (channel, proposal_service_pb2_grpc.ProposalServiceStub(channel),
            member_service_pb2_grpc.MemberServiceStub(channel))


def new_motion(proposals, title):
    deadline = timestamp_pb2.Timestamp()
    deadline.FromDatetime(datetime.datetime.now(datetime.timezone.utc)
                          + datetime.timedelta(hours=2))
    request = proposal_service_pb2.CreateProposalRequest(proposal=proposal_pb2.Proposal(
        title=title,
        generic_motion=proposal_pb2.GenericMotion(target="containers", text=title),
        sponsor="members/USA",
        deadline=deadline,
    ))
    return proposals.CreateProposal(request, timeout=RPC_TIMEOUT_S).proposal.name


def ballot(member, n):
    # Support and abstain in turn keep a unanimity proposal open (never settled early).
    choice = ballot_pb2.CHOICE_SUPPORT if n % 2 == 0 else ballot_pb2.CHOICE_ABSTAIN
    return ballot_pb2.Ballot(member=f"members/{member}", choice=choice, reason=f"ballot {n}")


def all_ballots(proposals, proposal):
    names, token = [], ""
    while True:
        page = proposals.ListBallots(proposal_service_pb2.ListBallotsRequest(
            proposal=proposal, page_size=1000, page_token=token), timeout=RPC_TIMEOUT_S)
        names += [b.name for b in page.ballots]
        if not page.next_page_token:
            return names
        token = page.next_page_token


def test_ballots_through_every_replica_are_seen_by_every_replica_and_a_watch(cluster):
    channels = [stubs(f"{ip}:50051") for ip in cluster.replica_ips]
    proposal = new_motion(channels[0][1], "spread over the replicas")
    events, ready = [], threading.Event()

    def watch():
        stream = channels[2][1].WatchProposal(
            proposal_service_pb2.WatchProposalRequest(name=proposal), timeout=60)
        ready.set()
        for event in stream:
            events.append(event)
            if sum(1 for e in events if e.HasField("ballot")) >= 9:
                stream.cancel()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    ready.wait(10)
    time.sleep(0.5)
    cast = []
    for n in range(9):
        _, proposals, _ = channels[n % 3]
        response = proposals.CastBallot(proposal_service_pb2.CastBallotRequest(
            proposal=proposal, ballot=ballot(MEMBERS[n], n)), timeout=RPC_TIMEOUT_S)
        cast.append(response.ballot.name)
        # Seen at once through every replica.
        for _, other, _ in channels:
            assert response.ballot.name in all_ballots(other, proposal)
    watcher.join(30)
    seen = [e.ballot.name for e in events if e.HasField("ballot")]
    assert sorted(seen) == sorted(cast), f"the watch on replica 3 saw {seen}, cast {cast}"
    for channel, _, _ in channels:
        channel.close()


def test_killing_one_replica_under_load_loses_no_acknowledged_ballot(cluster):
    channels = [stubs(f"{ip}:50051") for ip in cluster.replica_ips]
    proposal = new_motion(channels[0][1], "kill -9 under load")
    acknowledged, lock, stop = [], threading.Lock(), threading.Event()
    failures_on_survivors = []

    def load(worker):
        n = 0
        while not stop.is_set():
            replica = (worker + n) % 3
            _, proposals, _ = channels[replica]
            try:
                response = proposals.CastBallot(proposal_service_pb2.CastBallotRequest(
                    proposal=proposal, ballot=ballot(MEMBERS[(worker * 7 + n) % len(MEMBERS)], n)),
                    timeout=RPC_TIMEOUT_S)
                with lock:
                    acknowledged.append(response.ballot.name)
            except grpc.RpcError as e:
                if replica != 2:
                    failures_on_survivors.append(e.code())
            n += 1

    workers = [threading.Thread(target=load, args=(w,), daemon=True) for w in range(6)]
    for w in workers:
        w.start()
    time.sleep(3)
    docker("kill", "--signal", "KILL", cluster.replicas[2])
    time.sleep(3)
    stop.set()
    for w in workers:
        w.join(30)
    assert len(acknowledged) > 50, f"only {len(acknowledged)} ballots acknowledged"
    assert failures_on_survivors == [], f"the surviving replicas failed: {failures_on_survivors}"
    stored = set(all_ballots(channels[0][1], proposal))
    lost = [name for name in acknowledged if name not in stored]
    assert lost == [], f"{len(lost)} acknowledged ballots lost: {lost[:5]}"
    docker("start", cluster.replicas[2])
    cluster.wait_healthy(cluster.replicas[2])
    for channel, _, _ in channels:
        channel.close()


def test_a_rolling_restart_fails_no_request_of_a_client_that_retries_unavailable(cluster):
    channel, proposals, members = stubs(f"{cluster.lb_ip}:50051")
    proposal = new_motion(proposals, "rolling restart")
    done, stop = [0], threading.Event()
    failures = []

    def call_with_retry(call):
        delay = 0.05
        for _ in range(60):
            try:
                return call()
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        raise AssertionError("still UNAVAILABLE after 60 tries")

    def client(worker):
        n = 0
        while not stop.is_set():
            try:
                call_with_retry(lambda: members.GetMember(
                    member_service_pb2.GetMemberRequest(name="members/DEU"), timeout=RPC_TIMEOUT_S))
                call_with_retry(lambda: proposals.CastBallot(proposal_service_pb2.CastBallotRequest(
                    proposal=proposal, ballot=ballot(MEMBERS[(worker + n) % len(MEMBERS)], n)),
                    timeout=RPC_TIMEOUT_S))
                done[0] += 2
            except Exception as e:  # noqa: BLE001 - every failure is what this test counts
                failures.append(repr(e))
            n += 1

    clients = [threading.Thread(target=client, args=(w,), daemon=True) for w in range(4)]
    for c in clients:
        c.start()
    for name in cluster.replicas:
        docker("stop", "--time", "20", name)  # SIGTERM: drain, then exit
        docker("start", name)
        cluster.wait_healthy(name)
        time.sleep(1)
    stop.set()
    for c in clients:
        c.join(60)
    channel.close()
    assert failures == [], f"{len(failures)} failed requests, e.g. {failures[:3]}"
    assert done[0] > 100, f"only {done[0]} requests completed during the restart"
