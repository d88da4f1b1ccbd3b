"""The options of the `local` network backend (lbaas.network.local)."""
from oslo_config import cfg

network_local_opts = [
    cfg.MultiStrOpt("subnet", default=[],
                    help="A subnet of the local network backend (repeat for more): "
                         "'name=N cidr=C bridge=B [network=NET] [gateway=G] [host_ip=H] "
                         "[allocation_start=A] [allocation_end=E] [ovn_switch=LS] "
                         "[ovn_router=LR]'. Subnets sharing a network name form one network; "
                         "the bridge (at most 15 characters) is created when first plugged; "
                         "host_ip (default: the gateway) is put on the bridge so this host "
                         "reaches the subnet. ovn_switch/ovn_router name the OVN logical switch "
                         "and router carrying the subnet (the ovn provider's load balancers "
                         "are attached to them); with either, bridge may be left out, and such "
                         "a subnet hosts no amphora."),
]
