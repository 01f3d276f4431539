# libtorrent's restart with fast-resume data, for bench/run case 9.
#
#   lt-fastresume.py --torrent X --dir SRC --save RESUME
#       checks SRC in full, waits until it seeds, writes its resume data
#   lt-fastresume.py --dir SRC --load RESUME
#       adds the torrent from RESUME (no .torrent: the info dict is in it),
#       waits until it seeds, prints "READY seconds=S pieces=N of=M" (S from
#       this script's start, the library's import included) and exits
#
# Run it with /usr/bin/python3 (Debian's python3-libtorrent).
import time

T0 = time.monotonic()

import argparse  # noqa: E402
import sys  # noqa: E402

import libtorrent as lt  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--torrent")
ap.add_argument("--dir", required=True)
ap.add_argument("--save")
ap.add_argument("--load")
a = ap.parse_args()

s = lt.session({
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
    | lt.alert.category_t.storage_notification,
})


def wait(cond, what, limit=600):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        s.wait_for_alert(50)
        for al in s.pop_alerts():
            if isinstance(al, lt.torrent_error_alert) or isinstance(al, lt.file_error_alert):
                sys.exit("error: %s" % al.message())
            r = cond(al)
            if r:
                return r
    sys.exit("timed out waiting for %s" % what)


if a.save:
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(a.torrent)
    params.save_path = a.dir
    h = s.add_torrent(params)
    h.replace_trackers([])
    wait(lambda al: h.status().is_seeding, "seeding after the full check")
    h.save_resume_data(lt.save_resume_flags_t.save_info_dict)
    rd = wait(lambda al: isinstance(al, lt.save_resume_data_alert) and al, "the resume data")
    with open(a.save, "wb") as f:
        f.write(lt.write_resume_data_buf(rd.params))
else:
    with open(a.load, "rb") as f:
        params = lt.read_resume_data(f.read())
    params.save_path = a.dir
    params.trackers = []
    h = s.add_torrent(params)
    wait(lambda al: h.status().is_seeding, "seeding from the resume data")
    st = h.status()
    print("READY seconds=%.3f pieces=%d of=%d" % (time.monotonic() - T0, st.num_pieces, h.torrent_file().num_pieces()))
    sys.stdout.flush()
