import gi
gi.require_version('Gst','1.0'); gi.require_version('GstRtspServer','1.0')
from gi.repository import Gst, GstRtspServer, GLib
Gst.init(None)
s = GstRtspServer.RTSPServer(); s.set_address('127.0.0.1'); s.set_service('8554')
f = GstRtspServer.RTSPMediaFactory()
f.set_launch('( audiotestsrc is-live=true ! mulawenc ! rtppcmupay name=pay0 )')
f.set_shared(True)
s.get_mount_points().add_factory('/test', f)
s.attach(None)
GLib.MainLoop().run()
