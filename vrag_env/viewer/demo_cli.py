"""placeholder"""
def configure_parser(parser): pass
def run(args): return 0
