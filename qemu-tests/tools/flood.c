// Flood of new UDP flows for the flood test: sends --count datagrams to VIP:PORT, each from a
// different (source address, source port) — source addresses 10.0.1.<first>..<last> spoofed with a
// raw socket, ports 1024..65535 — so every datagram is a new flow (a new session for SARA). Bounded
// by --count and --seconds. Prints "sent N in S s (R/s)".
//
// Build: gcc -O2 -o flood flood.c      Usage: flood VIP PORT COUNT SECONDS FIRST LAST
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: %s VIP PORT COUNT SECONDS FIRST LAST\n", argv[0]);
		return 2;
	}
	in_addr_t vip = inet_addr(argv[1]);
	int port = atoi(argv[2]);
	long count = atol(argv[3]);
	double seconds = atof(argv[4]);
	int first = atoi(argv[5]), last = atoi(argv[6]);
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = vip };
	enum { BATCH = 64 };
	struct { struct iphdr ip; struct udphdr udp; char data[8]; } pkt[BATCH];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	memset(pkt, 0, sizeof(pkt));
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		pkt[i].ip.version = 4;
		pkt[i].ip.ihl = 5;
		pkt[i].ip.ttl = 64;
		pkt[i].ip.protocol = IPPROTO_UDP;
		pkt[i].ip.tot_len = htons(sizeof(pkt[i]));
		pkt[i].ip.daddr = vip;
		pkt[i].udp.dest = htons(port);
		pkt[i].udp.len = htons(sizeof(pkt[i].udp) + sizeof(pkt[i].data));
		memcpy(pkt[i].data, "floodpkt", 8);
		iov[i].iov_base = &pkt[i];
		iov[i].iov_len = sizeof(pkt[i]);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &to;
		msgs[i].msg_hdr.msg_namelen = sizeof(to);
	}
	long sent = 0, n = 0;
	int span = last - first + 1;
	double start = now(), end = start + seconds;
	while (sent < count && now() < end) {
		int b = 0;
		for (; b < BATCH && sent + b < count; b++, n++) {
			long flow = n;
			int addr = first + (int)(flow % span);
			int sport = 1024 + (int)((flow / span) % 64512);
			pkt[b].ip.saddr = htonl((10u << 24) | (0u << 16) | (1u << 8) | (unsigned)addr);
			pkt[b].ip.id = htons((unsigned short)flow);
			pkt[b].udp.source = htons(sport);
		}
		int r = sendmmsg(fd, msgs, b, 0);
		if (r > 0)
			sent += r;
		else
			usleep(1000);
	}
	double dt = now() - start;
	printf("sent %ld in %.1f s (%.0f/s)\n", sent, dt, sent / (dt > 0 ? dt : 1));
	return 0;
}
