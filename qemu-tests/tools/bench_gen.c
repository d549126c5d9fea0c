// Traffic generator of the benchmarks (qemu-tests/bench.sh): many concurrent UDP or TCP flows
// from spoofed sources, sent with a raw socket (sendmmsg, 64 packets a call) as fast as the path
// takes them (or at a fixed rate with -r).
//
// The flows are F distinct 5-tuples: flow i (0 <= i < F) comes from SRC + (i mod A), port
// 1024 + i / A, where A = min(F, 65536), and goes to DST[i mod #DST]:PORT. This process sends the
// flows [OFF, OFF + N) of that space (several processes split one space).
//
//   -m new     each flow once: one datagram (UDP) or a SYN then an ACK (TCP), so every flow is a new
//              flow/session for the balancer.
//   -m steady  cycle over the flows again and again for -t seconds (TCP: ACKs with 16 bytes of data):
//              every packet belongs to a flow the balancer already tracks.
//
// Stops after -t seconds, on SIGINT/SIGTERM, or (new) when every flow was sent. Prints
// "sent N in S s (R/s) flows F passes P wall START END" (START, END: CLOCK_REALTIME). UDP checksums are 0 (none); TCP checksums are computed.
//
// Build: gcc -O2 -o bench_gen bench_gen.c
// Usage: bench_gen -d DST[,DST...] -p PORT -P udp|tcp -f F [-o OFF -n N] -m new|steady -t SECONDS
//                  [-s SRC_BASE] [-r PPS]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static double wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

enum { BATCH = 64, PAYLOAD = 16, MAXDST = 8 };

struct pkt {
	struct iphdr ip;
	union {
		struct udphdr udp;
		struct tcphdr tcp;
	};
	char data[PAYLOAD];
} __attribute__((packed));

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const void *p, size_t len)
{
	const uint16_t *w = p;
	for (; len > 1; len -= 2)
		sum += *w++;
	if (len)
		sum += *(const uint8_t *)w;
	return sum;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s -d DST[,DST...] -p PORT -P udp|tcp -f FLOWS [-o OFF -n N] -m new|steady -t SECONDS"
		" [-s SRC_BASE] [-r PPS]\n",
		argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	in_addr_t dst[MAXDST];
	int ndst = 0, port = 0, tcp = 0, steady = 0, opt;
	long flows = 0, off = 0, count = -1;
	double seconds = 10, rate = 0;
	uint32_t src_base = ntohl(inet_addr("10.1.0.0"));
	while ((opt = getopt(argc, argv, "d:p:P:f:o:n:m:t:s:r:")) != -1) {
		switch (opt) {
		case 'd': {
			char *list = strdup(optarg), *save = NULL;
			for (char *t = strtok_r(list, ",", &save); t && ndst < MAXDST; t = strtok_r(NULL, ",", &save))
				dst[ndst++] = inet_addr(t);
			break;
		}
		case 'p': port = atoi(optarg); break;
		case 'P': tcp = !strcmp(optarg, "tcp"); break;
		case 'f': flows = atol(optarg); break;
		case 'o': off = atol(optarg); break;
		case 'n': count = atol(optarg); break;
		case 'm': steady = !strcmp(optarg, "steady"); break;
		case 't': seconds = atof(optarg); break;
		case 's': src_base = ntohl(inet_addr(optarg)); break;
		case 'r': rate = atof(optarg); break;
		default: usage(argv[0]);
		}
	}
	if (!ndst || !port || flows <= 0)
		usage(argv[0]);
	if (count < 0)
		count = flows - off;
	if (off < 0 || count <= 0 || off + count > flows)
		usage(argv[0]);
	long span = flows < 65536 ? flows : 65536;

	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	int sndbuf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));

	static struct pkt pkt[BATCH];
	static struct mmsghdr msgs[BATCH];
	static struct iovec iov[BATCH];
	static struct sockaddr_in to[BATCH];
	size_t l4len = (tcp ? sizeof(struct tcphdr) : sizeof(struct udphdr)) + PAYLOAD;
	size_t len = sizeof(struct iphdr) + l4len;
	for (int i = 0; i < BATCH; i++) {
		struct pkt *p = &pkt[i];
		p->ip.version = 4;
		p->ip.ihl = 5;
		p->ip.ttl = 64;
		p->ip.protocol = tcp ? IPPROTO_TCP : IPPROTO_UDP;
		p->ip.tot_len = htons(len);
		memcpy((char *)&p->ip + sizeof(struct iphdr) + (tcp ? sizeof(struct tcphdr) : sizeof(struct udphdr)),
		       "sara-bench-pkt!!", PAYLOAD);
		if (tcp) {
			p->tcp.doff = 5;
			p->tcp.window = htons(65535);
			p->tcp.dest = htons(port);
		} else {
			p->udp.dest = htons(port);
			p->udp.len = htons(l4len);
		}
		to[i].sin_family = AF_INET;
		iov[i].iov_base = p;
		iov[i].iov_len = len;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &to[i];
		msgs[i].msg_hdr.msg_namelen = sizeof(to[i]);
	}

	/* pos: index in [0, count) of the next flow; half: in TCP "new" mode every flow is a SYN then
	 * an ACK (a connection's opening as a direct-routing dispatcher sees it), half 1 is the ACK. */
	long sent = 0, passes = 0, pos = 0, opened = 0;
	int half = 0, pairs = tcp && !steady;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	double wstart = wall(), start = now(), end = start + seconds;
	while (!stop && now() < end && (steady || opened < count)) {
		int b = 0;
		for (; b < BATCH && (steady || opened < count); b++) {
			long i = off + pos;
			int syn = pairs && !half, ack = !pairs || half;
			if (!pairs || half) {
				opened++;
				if (++pos == count) {
					pos = 0;
					passes++;
				}
			}
			if (pairs)
				half = !half;
			struct pkt *p = &pkt[b];
			in_addr_t d = dst[i % ndst];
			p->ip.saddr = htonl(src_base + (uint32_t)(i % span));
			p->ip.daddr = d;
			p->ip.id = htons((uint16_t)(sent + b));
			to[b].sin_addr.s_addr = d;
			uint16_t sport = htons(1024 + (uint16_t)(i / span));
			if (tcp) {
				p->tcp.source = sport;
				p->tcp.seq = htonl(0x5a5a0000u + (syn ? 0 : 1));
				p->tcp.ack_seq = ack ? htonl(1) : 0;
				p->tcp.syn = syn;
				p->tcp.ack = ack;
				p->tcp.psh = ack;
				p->tcp.check = 0;
				size_t seg = syn ? sizeof(struct tcphdr) : l4len; /* a SYN carries no data */
				p->ip.tot_len = htons(sizeof(struct iphdr) + seg);
				iov[b].iov_len = sizeof(struct iphdr) + seg;
				uint32_t sum = csum_add(0, &p->ip.saddr, 8);
				sum += htons(IPPROTO_TCP);
				sum += htons(seg);
				sum = csum_add(sum, &p->tcp, seg);
				p->tcp.check = csum_fold(sum);
			} else {
				p->udp.source = sport;
			}
		}
		if (!b)
			break;
		int r = sendmmsg(fd, msgs, b, 0);
		if (r > 0) {
			sent += r; /* a partial batch: the rest is not resent (the counts at the servers tell) */
		} else if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
			usleep(100);
		} else {
			perror("sendmmsg");
			return 1;
		}
		if (rate > 0) {
			double due = start + sent / rate;
			double t = now();
			if (due > t)
				usleep((useconds_t)((due - t) * 1e6));
		}
	}
	double dt = now() - start;
	printf("sent %ld in %.1f s (%.0f/s) flows %ld passes %ld wall %.6f %.6f\n", sent, dt, sent / (dt > 0 ? dt : 1), opened,
	       passes, wstart, wstart + dt);
	return 0;
}
