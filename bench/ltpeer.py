# bench/ltpeer.py: a libtorrent peer for bench/run, on loopback only.
#
#   seeder:  ltpeer.py --torrent X --dir SRC --port P --seed [--tracker]
#            checks SRC, prints READY, then seeds until killed
#   leecher: ltpeer.py --torrent X --dir DST --port P --connect 127.0.0.1:Q
#            downloads, exits 0 as soon as it is seeding (complete and checked)
#
# Run it with /usr/bin/python3: Debian's python3-libtorrent is only visible to
# Debian's interpreter. Kept separate from internal/realpeers/ltpeer.py so the
# benchmark does not move when the tests' helper does.
import argparse
import sys
import time

import libtorrent as lt

ap = argparse.ArgumentParser()
ap.add_argument("--torrent", required=True)
ap.add_argument("--dir", required=True)
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--seed", action="store_true")
ap.add_argument("--connect", action="append", default=[], help="HOST:PORT of a peer")
ap.add_argument("--tracker", action="store_true", help="announce to the torrent's tracker")
ap.add_argument("--plain", action="store_true", help="no encrypted (MSE) handshake first on outgoing connections")
a = ap.parse_args()

s = lt.session({
    "listen_interfaces": "127.0.0.1:%d" % a.port,
    # Nothing but the peers we name (and the tracker, if asked): no DHT,
    # local discovery or port mapping, TCP only so every client speaks the same.
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_outgoing_utp": False, "enable_incoming_utp": False,
    # Every peer in the benchmark is 127.0.0.1.
    "allow_multiple_connections_per_ip": True,
    "alert_mask": lt.alert.category_t.error_notification,
})
# By default libtorrent opens outgoing connections with an encrypted (MSE)
# handshake and falls back to plain BitTorrent when the other side does not
# answer it; --plain starts plain, to tell that fallback apart from transfer.
if a.plain:
    s.apply_settings({"out_enc_policy": int(lt.enc_policy.pe_disabled)})
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


# The seeder checks its data before it says READY, so the leecher's clock
# never includes the seeder's hashing.
while h.status().state in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data):
    time.sleep(0.02)
if a.seed and not h.status().is_seeding:
    emit("ERROR seeder data incomplete: progress %.3f" % h.status().progress)
    sys.exit(1)
emit("READY port=%d" % s.listen_port())

connect()
last = time.time()
while True:
    st = h.status()
    if not a.seed and st.is_seeding:
        emit("DONE")
        sys.exit(0)
    # libtorrent does not retry a failed connect by itself (e.g. the other
    # side was still starting): try again while we have no peer.
    if a.connect and st.num_peers == 0 and time.time() - last > 0.5:
        connect()
        last = time.time()
    for al in s.pop_alerts():
        if isinstance(al, (lt.torrent_error_alert, lt.file_error_alert)):
            emit("ERROR " + al.message())
    time.sleep(0.02)
