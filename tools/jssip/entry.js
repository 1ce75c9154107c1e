window.JsSIP = require('jssip');
