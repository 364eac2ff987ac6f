from egobench.cli import main

main()
