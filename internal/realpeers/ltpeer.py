# A libtorrent peer on loopback, for the tests (internal/realpeers) and for
# bench/run: seeds or leeches one torrent and prints status lines on stdout.
#
#   seeder:  ltpeer.py --torrent X --dir SRC --port P --seed [--tracker]
#            checks SRC, prints READY port=N, then seeds until killed
#   leecher: ltpeer.py --torrent X --dir DST --port P --connect 127.0.0.1:Q [--exit]
#            prints READY, PROGRESS f ... lines and DONE once complete and
#            checked; with --exit it exits 0 there
#   magnet:  ltpeer.py --magnet URI --dir DST --port P
#            a leecher that fetches the metadata from the link's x.pe peers
#            first and prints METADATA sha1=HEX (of the info dictionary) then
#   both print ERROR lines for libtorrent's errors, HASHFAIL piece=N when
#   a piece they received fails its hash check (a peer sent bad data), and
#   PEER IP:PORT source=pex+tracker out=1 once for each peer they connect
#   with (source: how libtorrent learned of it; out=1: it dialled the peer)
#
# PEX (ut_pex) and ut_metadata are libtorrent's default plugins: on, unless
# --no-plugins (a leecher of a .torrent that only ever talks to the peers it
# is given: bench/run's case 12, where a seeder's PEX would otherwise
# introduce the leechers to each other).
#
# Run it with /usr/bin/python3: Debian's python3-libtorrent is only visible
# to Debian's interpreter.
import argparse
import hashlib
import sys
import time

import libtorrent as lt

ap = argparse.ArgumentParser()
src = ap.add_mutually_exclusive_group(required=True)
src.add_argument("--torrent")
src.add_argument("--magnet", help="a magnet link instead of a .torrent")
ap.add_argument("--dir", required=True)
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--host", default="127.0.0.1",
                help="listen address; a distinct 127.0.0.x per peer for clients that keep one connection per IP")
ap.add_argument("--seed", action="store_true")
ap.add_argument("--upload-rate", type=int, default=0)
ap.add_argument("--download-rate", type=int, default=0)
ap.add_argument("--tick-ms", type=int, default=0,
                help="libtorrent's tick_interval (0: its default, 500 ms); the rate limiter hands out quota once a tick")
ap.add_argument("--connect", action="append", default=[], help="HOST:PORT of a peer")
ap.add_argument("--tracker", action="store_true", help="announce to the torrent's tracker")
ap.add_argument("--exit", action="store_true", help="leecher: exit 0 once complete")
ap.add_argument("--no-plugins", action="store_true",
                help="none of libtorrent's default plugins (ut_pex, ut_metadata, smart_ban)")
ap.add_argument("--plain", action="store_true", help="no encrypted (MSE) handshake first on outgoing connections")
ap.add_argument("--encryption", choices=["default", "forced"], default="default",
                help="forced: MSE with RC4 only, both ways; no plain connections")
a = ap.parse_args()

s = lt.session({
    "listen_interfaces": "%s:%d" % (a.host, a.port),
    # Nothing but the peers we name (and the tracker, if asked): no DHT,
    # local discovery or port mapping, TCP only so every client speaks the same.
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_outgoing_utp": False, "enable_incoming_utp": False,
    # Every peer here is 127.0.0.1.
    "allow_multiple_connections_per_ip": True,
    "upload_rate_limit": a.upload_rate,
    "download_rate_limit": a.download_rate,
    "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
}, 0 if a.no_plugins else lt.session_flags_t.add_default_plugins)
# libtorrent's default (pe_enabled, both levels) opens outgoing connections
# with MSE and falls back to plain when the other side does not answer it;
# --plain starts plain, forced refuses anything but RC4.
if a.tick_ms:
    s.apply_settings({"tick_interval": a.tick_ms})
if a.plain:
    s.apply_settings({"out_enc_policy": int(lt.enc_policy.pe_disabled)})
if a.encryption == "forced":
    s.apply_settings({
        "out_enc_policy": int(lt.enc_policy.pe_forced),
        "in_enc_policy": int(lt.enc_policy.pe_forced),
        "allowed_enc_level": int(lt.enc_level.rc4),
        "prefer_rc4": True,
    })
# Loopback peers are "local" and exempt from rate limits unless they are
# put in the global peer class.
if a.upload_rate or a.download_rate:
    f = lt.ip_filter()
    f.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
    s.set_peer_class_filter(f)
if a.magnet:
    params = lt.parse_magnet_uri(a.magnet)
else:
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(a.torrent)
params.save_path = a.dir
h = s.add_torrent(params)
if not a.tracker:
    h.replace_trackers([])


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def connect():
    for p in a.connect:
        host, port = p.rsplit(":", 1)
        h.connect_peer((host, int(port)))


# The check of existing data comes before READY, so a leecher's clock never
# includes the seeder's hashing.
while h.status().state in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data):
    time.sleep(0.02)
if a.seed and not h.status().is_seeding:
    emit("ERROR seeder data incomplete: progress %.3f" % h.status().progress)
    sys.exit(1)
emit("READY port=%d" % s.listen_port())

connect()
# libtorrent's peer_source_flags_t bits, named as realpeers reports them.
SOURCES = [(lt.peer_info.tracker, "tracker"), (lt.peer_info.dht, "dht"), (lt.peer_info.pex, "pex"),
           (lt.peer_info.lsd, "lsd"), (lt.peer_info.resume_data, "resume"), (0x20, "incoming")]
seen = set()


def report_peers():
    for pi in h.get_peer_info():
        if pi.flags & (lt.peer_info.connecting | lt.peer_info.handshake):
            continue
        ep = "%s:%d" % (pi.ip[0], pi.ip[1])
        if ep in seen:
            continue
        seen.add(ep)
        src = "+".join(n for bit, n in SOURCES if pi.source & bit) or "none"
        out = 1 if pi.flags & lt.peer_info.outgoing_connection else 0
        emit("PEER %s source=%s out=%d" % (ep, src, out))


last = 0
done = False
while True:
    report_peers()
    st = h.status()
    if not a.seed:
        if st.is_seeding and not done:
            done = True
            emit("DONE")
            if a.exit:
                sys.exit(0)
        now = time.time()
        if now - last > 0.2:
            # down and t: payload bytes received so far, and when (the
            # leecher's own clock), so a test can compute exact rates.
            emit("PROGRESS %.4f peers=%d down=%d t=%.3f" % (st.progress, st.num_peers, st.total_payload_download, now))
            last = now
            if st.num_peers == 0 and not done:
                connect()  # libtorrent does not retry a failed connect by itself
    for al in s.pop_alerts():
        if isinstance(al, (lt.torrent_error_alert, lt.file_error_alert)):
            emit("ERROR " + al.message())
        elif isinstance(al, lt.hash_failed_alert):
            emit("HASHFAIL piece=%d" % al.piece_index)
        elif isinstance(al, lt.metadata_received_alert):
            emit("METADATA sha1=" + hashlib.sha1(h.torrent_file().info_section()).hexdigest())
    time.sleep(0.02)
