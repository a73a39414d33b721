from iqa.cli import main

raise SystemExit(main())
