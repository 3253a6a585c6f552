# Runs a fail2ban action file through fail2ban's own code: ActionReader reads it as the client
# does for `action = portwall[portwall="CMD"]`, its settings go to a real CommandAction as the
# server applies them, and ban/unban execute the shell command fail2ban would run.
# Usage: fail2ban_action.py ACTION_CONF PORTWALL_CMD ban|unban IP BANTIME   (exit 0 only if it succeeded)
import os, shutil, sys, tempfile
from fail2ban.client.actionreader import ActionReader
from fail2ban.server.action import CommandAction
from fail2ban.server.actions import Actions
from fail2ban.server.ipdns import IPAddr
from fail2ban.server.ticket import BanTicket

conf, cmd, op, ip, bantime = sys.argv[1:6]
if op not in ("ban", "unban"): sys.exit("usage: fail2ban_action.py ACTION_CONF PORTWALL_CMD ban|unban IP BANTIME")
with tempfile.TemporaryDirectory() as base:  # fail2ban reads BASEDIR/action.d/NAME.conf
    os.mkdir(os.path.join(base, "action.d"))
    shutil.copy(conf, os.path.join(base, "action.d", "portwall.conf"))
    reader = ActionReader("portwall", "jail", {"portwall": cmd}, basedir=base)
    if not reader.read(): sys.exit("cannot read " + conf)
    reader.getOptions({})
    stream = reader.convert()  # the commands fail2ban-client sends the server
action = CommandAction(None, "portwall")
for c in stream:  # as the server's Transmitter applies "multi-set"/"set JAIL action NAME KEY VALUE"
    pairs = c[4] if c[0] == "multi-set" else [c[4:6]] if c[2] == "action" else []
    for key, value in pairs: setattr(action, key, value)
assert action.portwall == cmd, action.portwall
ticket = BanTicket(IPAddr(ip))
ticket.setBanTime(int(bantime))
info = Actions.ActionInfo(ticket)  # the aInfo fail2ban's Actions passes to ban and unban
try:
    if op == "ban":
        action.ban(info)  # raises RuntimeError when the command fails
    # unban() runs the command only after a ban by this same action object (as in fail2ban);
    # its body is this call, which returns False when the command fails.
    elif not action._processCmd("<actionunban>", info):
        sys.exit("unban failed")
except Exception as e:
    sys.exit("%s failed: %s" % (op, e))
