# A libtorrent DHT node on loopback, for the tests of host/dht:
#
#   ltdht.py --ip 127.0.0.x --port P [--bootstrap HOST:PORT ...]
#            [--torrent X --dir SRC] [--get-peers HEX]
#
# (--ip may be ::1) prints READY port=N once listening (the DHT shares the
# port, over UDP); with --torrent it seeds X from SRC and announces it to the DHT only (no
# tracker); with --get-peers it runs dht_get_peers for HEX every second and
# prints PEER ip:port for each peer a node returns. STATUS dht_nodes=N lines
# follow every second. Queries other nodes send it are printed as
# GOT_GET_PEERS HEX and GOT_ANNOUNCE HEX ip:port. Run it with /usr/bin/python3.
import argparse
import sys
import time
import warnings

import libtorrent as lt

ap = argparse.ArgumentParser()
ap.add_argument("--ip", default="127.0.0.1")
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--bootstrap", action="append", default=[], help="HOST:PORT of a DHT node")
ap.add_argument("--torrent")
ap.add_argument("--dir")
ap.add_argument("--get-peers", help="info-hash in hex")
a = ap.parse_args()
# session.status() is deprecated but still the one call that counts DHT nodes.
warnings.simplefilter("ignore", DeprecationWarning)


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


cats = lt.alert.category_t
s = lt.session({
    "listen_interfaces": ("[%s]:%d" if ":" in a.ip else "%s:%d") % (a.ip, a.port),
    "enable_dht": True,
    # bootstrap_nodes is retried by libtorrent, add_dht_node is not.
    "dht_bootstrap_nodes": ",".join(a.bootstrap),
    # Every node here is on 127.0.0.x: let them all into the routing table
    # and the searches.
    "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
    # Re-announce often: a seeder that started before its DHT had nodes
    # would otherwise wait 15 min to announce.
    "dht_announce_interval": 2,
    "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_outgoing_utp": False, "enable_incoming_utp": False,
    "allow_multiple_connections_per_ip": True,
    "alert_mask": cats.error_notification | cats.status_notification | cats.dht_notification
    | cats.dht_operation_notification,
})
if a.torrent:
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(a.torrent)
    params.save_path = a.dir
    h = s.add_torrent(params)
    h.replace_trackers([])
    while h.status().state in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data):
        time.sleep(0.02)
    if not h.status().is_seeding:
        emit("ERROR seeder data incomplete: progress %.3f" % h.status().progress)
        sys.exit(1)
emit("READY port=%d" % s.listen_port())

ih = lt.sha1_hash(bytes.fromhex(a.get_peers)) if a.get_peers else None
last = 0
while True:
    now = time.time()
    if now - last >= 1:
        last = now
        emit("STATUS dht_nodes=%d" % s.status().dht_nodes)
        if ih is not None:
            s.dht_get_peers(ih)
    for al in s.pop_alerts():
        if isinstance(al, lt.dht_get_peers_reply_alert):
            for ip, port in al.peers():
                emit("PEER %s:%d" % (ip, port))
        elif isinstance(al, lt.dht_get_peers_alert):
            emit("GOT_GET_PEERS %s" % al.info_hash)
        elif isinstance(al, lt.dht_announce_alert):
            emit("GOT_ANNOUNCE %s %s:%d" % (al.info_hash, al.ip, al.port))
        elif isinstance(al, (lt.torrent_error_alert, lt.file_error_alert)) or al.category() & cats.error_notification:
            emit("ERROR " + al.message())
    time.sleep(0.02)
