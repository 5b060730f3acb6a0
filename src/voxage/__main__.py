from voxage.cli import main

raise SystemExit(main())
